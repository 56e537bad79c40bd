package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

func TestAuditProveVerifyProofConsistencySince(t *testing.T) {
	dir, pemKey, setKey, key := newFileLogKey(t, 20)
	tmp := filepath.Dir(dir)
	code, proof, errOut := runCLI(t, nil, "audit", "prove", "--key", pemKey, dir, "7")
	if code != exitOK || !strings.HasPrefix(proof, "hipaakit audit inclusion proof v1\n") {
		t.Fatalf("prove: %d %q", code, errOut)
	}
	pf := filepath.Join(tmp, "7.proof")
	os.WriteFile(pf, []byte(proof), 0o600)
	if code, out, _ := runCLI(t, nil, "audit", "verify-proof", "--key", setKey, "--stream", "audit", pf); code != exitOK || !strings.Contains(out, "OK: stream audit seq 7") {
		t.Fatalf("verify-proof: %d %q", code, out)
	}
	// another key, another stream, a damaged proof: exit 1
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := keyFiles(t, t.TempDir(), other)
	if code, out, _ := runCLI(t, nil, "audit", "verify-proof", "--key", otherKey, pf); code != exitCheck || !strings.Contains(out, "FAILED") {
		t.Fatalf("another key: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, nil, "audit", "verify-proof", "--key", pemKey, "--stream", "other", pf); code != exitCheck {
		t.Fatalf("another stream: %d", code)
	}
	os.WriteFile(pf, []byte(proof[:len(proof)-30]), 0o600)
	if code, _, _ := runCLI(t, nil, "audit", "verify-proof", "--key", pemKey, pf); code != exitCheck {
		t.Fatalf("damaged proof: %d", code)
	}

	// keep the checkpoint, grow the log, check consistency and --since
	old := filepath.Join(tmp, "old.note")
	b, _ := os.ReadFile(filepath.Join(dir, audit.TreeCheckpointFile))
	os.WriteFile(old, b, 0o600)
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.jsonl"))
	segAt20, _ := os.ReadFile(segs[0])
	hashesAt20, _ := os.ReadFile(filepath.Join(dir, audit.TreeHashesFile))
	l, err := audit.OpenFileLog(context.Background(), dir, audit.FileOptions{Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := 20; i < 30; i++ {
		if err := l.Write(context.Background(), cliEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(tmp, "new.note")
	b, _ = os.ReadFile(filepath.Join(dir, audit.TreeCheckpointFile))
	os.WriteFile(newer, b, 0o600)
	if code, out, _ := runCLI(t, nil, "audit", "consistency", "--key", pemKey, "--log", dir, old, newer); code != exitOK || !strings.Contains(out, "size 30 extends size 20") {
		t.Fatalf("consistency: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, nil, "audit", "consistency", "--key", pemKey, "--log", dir, newer, old); code != exitCheck {
		t.Fatalf("consistency backwards: %d", code)
	}
	if code, out, _ := runCLI(t, nil, "audit", "verify", "--key", pemKey, "--since", old, dir); code != exitOK || !strings.Contains(out, "grew from size 20 to 30") {
		t.Fatalf("verify --since: %d %q", code, out)
	}
	// cut the log back at the checkpoint of size 20: v1 verification
	// passes, --since the kept size-30 checkpoint fails
	os.WriteFile(segs[0], segAt20, 0o600)
	os.WriteFile(filepath.Join(dir, audit.TreeHashesFile), hashesAt20, 0o600)
	b, _ = os.ReadFile(old)
	os.WriteFile(filepath.Join(dir, audit.TreeCheckpointFile), b, 0o600)
	if code, out, _ := runCLI(t, nil, "audit", "verify", "--key", pemKey, dir); code != exitOK {
		t.Fatalf("cut log, v1: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, nil, "audit", "verify", "--key", pemKey, "--since", newer, dir); code != exitCheck || !strings.Contains(out, "does not extend") {
		t.Fatalf("cut log, --since: %d %q", code, out)
	}
}
