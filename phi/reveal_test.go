package phi_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/phi"
)

// errDiskFull is the failure of an audit writer made to fail.
var errDiskFull = errors.New("audit: disk full")

// failingAudit returns an in-memory audit writer whose writes fail.
func failingAudit() *audittest.Memory {
	m := &audittest.Memory{}
	m.FailWith(errDiskFull)
	return m
}

func TestRevealAudits(t *testing.T) {
	w := &audittest.Memory{}
	info := func(context.Context) (audit.Actor, audit.Origin) {
		return audit.Actor{UserID: "u-7"}, audit.Origin{Channel: audit.ChannelAPI}
	}
	e := newEnvWith(t, phi.VaultConfig{Audit: w, AuditInfo: info})
	b := phi.Binding{Subject: "p1", Field: "ssn", Tenant: "t1", Record: "r1"}
	s := mustSeal(t, e.vault, b, canary)
	pt, err := e.vault.Reveal(ctx, b, s, "treatment")
	if err != nil || string(pt) != canary {
		t.Fatalf("Reveal: %v", err)
	}
	if len(w.Events()) != 1 {
		t.Fatalf("%d events", len(w.Events()))
	}
	ev := w.Events()[0]
	want := audit.Target{Subject: "p1", Field: "ssn", RecordID: "r1"}
	if ev.Action != audit.ActionReveal || ev.Outcome != audit.OutcomeSuccess || ev.Purpose != "treatment" ||
		ev.Target != want || ev.Actor.UserID != "u-7" || ev.Actor.TenantID != "t1" || ev.Origin.Channel != audit.ChannelAPI || !ev.Time.Equal(t0) {
		t.Fatalf("event: %+v", ev)
	}

	// A failed open is audited as a failure.
	if _, err := e.vault.Reveal(ctx, phi.Binding{Subject: "p1", Field: "dob"}, s, "treatment"); !errors.Is(err, phi.ErrTampered) {
		t.Fatalf("wrong binding: %v", err)
	}
	if last := w.Last(); last.Outcome != audit.OutcomeFailure || last.Reason != "tampered" {
		t.Fatalf("failure event: %+v", last)
	}

	// No audit, no access.
	w.FailWith(errDiskFull)
	pt, err = e.vault.Reveal(ctx, b, s, "treatment")
	if !errors.Is(err, phi.ErrAuditFailed) || pt != nil {
		t.Fatalf("audit failure: %v, %d bytes", err, len(pt))
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatal("error leaked plaintext")
	}
	_, err = e.vault.Reveal(ctx, phi.Binding{Subject: "p1", Field: "dob"}, s, "treatment")
	if !errors.Is(err, phi.ErrAuditFailed) || !errors.Is(err, phi.ErrTampered) {
		t.Fatalf("open and audit failure: %v", err)
	}
	for _, ev := range w.Events() {
		if strings.Contains(ev.Reason+ev.Purpose+ev.Target.Field, canary) {
			t.Fatal("event holds plaintext")
		}
	}
}

func TestRevealFailsClosedWithoutWriterOrPurpose(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "p1", Field: "ssn"}
	s := mustSeal(t, e.vault, b, canary)
	if pt, err := e.vault.Reveal(ctx, b, s, "treatment"); !errors.Is(err, phi.ErrAuditFailed) || pt != nil {
		t.Fatalf("no writer: %v", err)
	}
	e = newEnvWith(t, phi.VaultConfig{Audit: audit.Discard{}})
	s = mustSeal(t, e.vault, b, canary)
	for _, p := range []phi.Purpose{"", "Treatment", "because the patient " + canary, phi.Purpose(strings.Repeat("a", 65))} {
		if _, err := e.vault.Reveal(ctx, b, s, p); err == nil || strings.Contains(err.Error(), canary) {
			t.Fatalf("Reveal with purpose %q: %v", p, err)
		}
	}
}

func TestRevealRefusesInvalidBindingWithoutAuditing(t *testing.T) {
	w := &audittest.Memory{}
	e := newEnvWith(t, phi.VaultConfig{Audit: w})
	s := mustSeal(t, e.vault, phi.Binding{Subject: "p1", Field: "ssn"}, canary)
	if _, err := e.vault.Reveal(ctx, phi.Binding{Subject: "Ann Example", Field: "ssn"}, s, "treatment"); !errors.Is(err, phi.ErrInvalidBinding) {
		t.Fatalf("got %v", err)
	}
	if len(w.Events()) != 0 {
		t.Fatal("an invalid binding reached the audit trail")
	}
}
