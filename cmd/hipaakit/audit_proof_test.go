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
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/signing"
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

func TestAuditProveVerifySincePostgres(t *testing.T) {
	pool, schema := hipaakittest.PostgresSchema(t)
	ctx := context.Background()
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	write := func(from, to int) {
		w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "api-1", Signer: key})
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			if err := w.Write(ctx, cliEvent(i)); err != nil {
				t.Fatal(err)
			}
		}
		w.Close(ctx)
	}
	write(0, 12)
	tmp := t.TempDir()
	pemKey, _ := keyFiles(t, tmp, key)
	sep := "?"
	if strings.Contains(hipaakittest.PostgresURL(), "?") {
		sep = "&"
	}
	env := map[string]string{envDatabaseURL: hipaakittest.PostgresURL() + sep + "search_path=" + schema}
	if code, _, _ := runCLI(t, env, "audit", "prove", "--key", pemKey, "pg", "5"); code != exitUsage {
		t.Fatalf("prove without --stream: %d", code)
	}
	pf := filepath.Join(tmp, "5.proof")
	if code, _, errOut := runCLI(t, env, "audit", "prove", "--key", pemKey, "--stream", "api-1", "--out", pf, "pg", "5"); code != exitOK {
		t.Fatalf("prove: %d %q", code, errOut)
	}
	if code, out, _ := runCLI(t, nil, "audit", "verify-proof", "--key", pemKey, pf); code != exitOK || !strings.Contains(out, "seq 5") {
		t.Fatalf("verify-proof: %d %q", code, out)
	}
	// keep the checkpoint (as an auditor would), then rewind the stream
	p := pgaudit.NewProver(pool, "api-1", mustKeySet(t, key))
	kept, err := p.TreeCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keptFile := filepath.Join(tmp, "kept.note")
	os.WriteFile(keptFile, kept.Note, 0o600)
	if code, out, _ := runCLI(t, env, "audit", "verify", "--key", pemKey, "--since", keptFile, "pg"); code != exitOK || !strings.Contains(out, "grew from size 12 to 12") {
		t.Fatalf("verify --since: %d %q", code, out)
	}
	var head []byte
	if err := pool.QueryRow(ctx, "SELECT hash FROM hipaakit_audit_records WHERE stream = 'api-1' AND seq = 8").Scan(&head); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SET session_replication_role = replica",
		"DELETE FROM hipaakit_audit_records WHERE stream = 'api-1' AND seq > 8",
		"DELETE FROM hipaakit_audit_checkpoints WHERE stream = 'api-1' AND seq > 8",
		"DELETE FROM hipaakit_audit_tree_checkpoints WHERE stream = 'api-1' AND size > 8",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "UPDATE hipaakit_audit_streams SET last_seq = 8, head = $1 WHERE stream = 'api-1'", head); err != nil {
		t.Fatal(err)
	}
	conn.Exec(ctx, "SET session_replication_role = DEFAULT")
	conn.Release()
	if code, out, _ := runCLI(t, env, "audit", "verify", "--key", pemKey, "--since", keptFile, "pg"); code != exitCheck || !strings.Contains(out, "does not extend") {
		t.Fatalf("rewound stream, --since: %d %q", code, out)
	}
}

func mustKeySet(t *testing.T, key ed25519.PrivateKey) signing.KeySet {
	t.Helper()
	ks, err := signing.NewKeySet(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}
