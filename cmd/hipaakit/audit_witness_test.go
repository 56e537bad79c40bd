package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/signing"
)

// TestAuditWitnessStatus: the CLI reports what the publisher stored: 2 of
// 2 cosignatures, then a newer checkpoint not yet published (exit 1), and
// too few when one more witness is required than cosigned.
func TestAuditWitnessStatus(t *testing.T) {
	ctx := context.Background()
	dir, pemKey, _, key := newFileLogKey(t, 12)
	logs, _ := signing.NewKeySet(key.Public().(ed25519.PublicKey))
	var eps []witness.Endpoint
	var flags []string
	for i := range 3 {
		wk := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 2)}, 32))
		w, err := witness.New(witness.Config{Name: "witness.example/w" + itoa(uint64(i)), Signer: wk, Logs: logs, StatePath: filepath.Join(t.TempDir(), "state")})
		if err != nil {
			t.Fatal(err)
		}
		pf, _ := keyFiles(t, t.TempDir(), wk)
		flags = append(flags, "--witness-key", w.Key().Name+"="+pf)
		if i < 2 {
			eps = append(eps, witness.Endpoint{Key: w.Key(), Adder: w})
		}
	}
	r, err := audit.OpenFileReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := witness.NewPublisher(witness.PublisherConfig{Prover: r.Prover(logs), Witnesses: eps,
		Store: &witness.FileStore{Path: filepath.Join(dir, audit.TreeCosignedFile)}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.PublishNow(ctx); err != nil || !st.Witnessed {
		t.Fatalf("publish: %+v %v", st, err)
	}
	args := append([]string{"audit", "witness-status", "--key", pemKey}, flags[:4]...)
	if code, out, errOut := runCLI(t, nil, append(args, dir)...); code != exitOK || !strings.Contains(out, "cosigned by 2 of 2") {
		t.Fatalf("2 of 2: %d %q %q", code, out, errOut)
	}
	all := append(append([]string{"audit", "witness-status", "--key", pemKey}, flags...), dir)
	if code, out, _ := runCLI(t, nil, all...); code != exitCheck || !strings.Contains(out, "too few") {
		t.Fatalf("3 of 3 with two cosigning: %d %q", code, out)
	}
	req2 := append(append([]string{"audit", "witness-status", "--key", pemKey, "--require", "2"}, flags...), dir)
	if code, _, _ := runCLI(t, nil, req2...); code != exitOK {
		t.Fatalf("2 of 3: %d", code)
	}
	l, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(ctx, cliEvent(99)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, nil, append(args, dir)...); code != exitCheck || !strings.Contains(out, "not witnessed yet") {
		t.Fatalf("stale: %d %q", code, out)
	}
}
