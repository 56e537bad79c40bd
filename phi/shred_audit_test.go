package phi_test

import (
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/phi"
)

// TestShredIsAudited: with an audit writer, Shred records the destruction
// after it happened, with the number of keys destroyed.
func TestShredIsAudited(t *testing.T) {
	rec := &audittest.Memory{}
	e := newEnvWith(t, phi.VaultConfig{Audit: rec})
	mustSeal(t, e.vault, phi.Binding{Subject: "p1", Field: "dob"}, "1970-01-01")
	destroyed, err := e.vault.Shred(ctx, "p1")
	if err != nil || len(destroyed) != 1 {
		t.Fatalf("Shred: %v %v", destroyed, err)
	}
	if len(rec.Events()) != 1 {
		t.Fatalf("%d events, want 1", len(rec.Events()))
	}
	ev := rec.Events()[0]
	if ev.Action != audit.ActionShred || ev.Outcome != audit.OutcomeSuccess || ev.Target.Subject != "p1" ||
		ev.Reason != "keys_destroyed" || ev.Attrs["key_count"] != "1" {
		t.Fatalf("event %+v", ev)
	}
	if err := ev.Validate(); err != nil {
		t.Fatalf("event invalid: %v", err)
	}
}

// TestShredFailsClosedWithoutAudit: when the event cannot be written,
// Shred returns ErrAuditFailed (the keys are destroyed all the same, and a
// retry records it).
func TestShredFailsClosedWithoutAudit(t *testing.T) {
	rec := failingAudit()
	e := newEnvWith(t, phi.VaultConfig{Audit: rec})
	b := phi.Binding{Subject: "p1", Field: "dob"}
	s := mustSeal(t, e.vault, b, "1970-01-01")
	if _, err := e.vault.Shred(ctx, "p1"); !errors.Is(err, phi.ErrAuditFailed) {
		t.Fatalf("Shred with a failing audit writer: %v, want ErrAuditFailed", err)
	}
	if _, err := e.vault.Open(ctx, b, s); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Open after Shred: %v, want ErrShredded", err)
	}
	rec.FailWith(nil)
	if _, err := e.vault.Shred(ctx, "p1"); err != nil {
		t.Fatalf("retried Shred: %v", err)
	}
	if len(rec.Events()) != 1 || rec.Events()[0].Attrs["key_count"] != "0" {
		t.Fatalf("retry events %+v", rec.Events())
	}
}
