package phi_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/phi"
)

// TestServeSealedAudits: ServeSealed returns the value still sealed (a
// copy), reads no key and no KEK, and records a read with exposure=sealed;
// without its audit event it returns nothing.
func TestServeSealedAudits(t *testing.T) {
	w := &audittest.Memory{}
	info := func(context.Context) (audit.Actor, audit.Origin) {
		return audit.Actor{UserID: "u-7"}, audit.Origin{Channel: audit.ChannelAPI}
	}
	e := newEnvWith(t, phi.VaultConfig{Audit: w, AuditInfo: info})
	b := phi.Binding{Subject: "p1", Field: "ssn", Tenant: "t1", Record: "r1"}
	s := mustSeal(t, e.vault, b, canary)
	storeCalls, kekCalls := e.store.calls.Load(), e.kek.calls.Load()
	out, err := e.vault.ServeSealed(ctx, b, s, "replication")
	if err != nil || !bytes.Equal(out, s) {
		t.Fatalf("ServeSealed: %v", err)
	}
	if &out[0] == &s[0] {
		t.Fatal("ServeSealed returned the caller's slice, not a copy")
	}
	if e.store.calls.Load() != storeCalls || e.kek.calls.Load() != kekCalls {
		t.Fatal("ServeSealed read keys: the value must never be opened")
	}
	if len(w.Events()) != 1 {
		t.Fatalf("%d events", len(w.Events()))
	}
	ev := w.Events()[0]
	want := audit.Target{Subject: "p1", Field: "ssn", RecordID: "r1"}
	if ev.Action != audit.ActionRead || ev.Outcome != audit.OutcomeSuccess || ev.Purpose != "replication" || ev.Target != want ||
		ev.Actor.UserID != "u-7" || ev.Actor.TenantID != "t1" || ev.Attrs[audit.AttrExposure] != audit.ExposureSealed || !ev.Time.Equal(t0) {
		t.Fatalf("event: %+v", ev)
	}

	// A shredded subject's ciphertext is still only ciphertext: served,
	// since nothing is opened.
	if _, err := e.vault.Shred(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vault.ServeSealed(ctx, b, s, "replication"); err != nil {
		t.Fatalf("ServeSealed after the shred: %v", err)
	}

	// Bytes that are not a sealed value, a bad binding or a bad purpose
	// are refused before anything is audited.
	n := len(w.Events())
	for name, call := range map[string]func() error{
		"malformed": func() error { _, err := e.vault.ServeSealed(ctx, b, phi.Sealed{0x01, 2}, "replication"); return err },
		"version":   func() error { _, err := e.vault.ServeSealed(ctx, b, phi.Sealed{0x07, 2}, "replication"); return err },
		"binding": func() error {
			_, err := e.vault.ServeSealed(ctx, phi.Binding{Subject: "p1"}, s, "replication")
			return err
		},
		"purpose": func() error { _, err := e.vault.ServeSealed(ctx, b, s, "Not A Purpose"); return err },
	} {
		if err := call(); err == nil {
			t.Fatalf("%s: served", name)
		}
	}
	if len(w.Events()) != n {
		t.Fatalf("refused calls were audited: %d events", len(w.Events())-n)
	}

	// No audit, no access.
	w.FailWith(errDiskFull)
	out, err = e.vault.ServeSealed(ctx, b, s, "replication")
	if !errors.Is(err, phi.ErrAuditFailed) || out != nil {
		t.Fatalf("audit failure: %v, %d bytes", err, len(out))
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatal("the error holds the plaintext")
	}
	noAudit := newEnv(t)
	if _, err := noAudit.vault.ServeSealed(ctx, b, mustSeal(t, noAudit.vault, b, canary), "replication"); !errors.Is(err, phi.ErrAuditFailed) {
		t.Fatalf("without an audit writer: %v", err)
	}
}
