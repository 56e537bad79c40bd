package backup

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

// TestAuditTrailDrill backs up a file audit log and drills it: the restored
// trail must verify with the checkpoint key, and fails with another key.
func TestAuditTrailDrill(t *testing.T) {
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	dir := filepath.Join(t.TempDir(), "audit")
	log, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		e := audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: "u1"},
			Target: audit.Target{RecordType: "patient", RecordID: "r1", Subject: "s1"}}
		if err := log.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	m, err := f.repo.Backup(ctx, AuditSource(dir))
	if err != nil {
		t.Fatal(err)
	}
	if m.Source.Kind != "audit" {
		t.Fatalf("source kind %q", m.Source.Kind)
	}
	rep, err := f.repo.Drill(ctx, DrillOptions{ScratchDir: t.TempDir(), AuditKeys: mustKeySet(t, pub)})
	if err != nil || !rep.Pass {
		t.Fatalf("audit drill: %+v, %v", rep, err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	rep, err = f.repo.Drill(ctx, DrillOptions{ScratchDir: t.TempDir(), AuditKeys: mustKeySet(t, other)})
	if !errors.Is(err, ErrDrillFailed) || rep.Pass {
		t.Fatalf("audit drill with a foreign checkpoint key: %+v, %v", rep, err)
	}
}

// mustKeySet is the signing.KeySet of keys.
func mustKeySet(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
