package disposal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
)

func TestShredIssuesVerifiableCertificate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil, nil)
	sealed := f.seal(t, "patient-1", "dob", "1970-01-01")
	other := f.seal(t, "patient-2", "dob", "1980-02-02")
	w, err := f.keys.Get(ctx, "patient-1")
	if err != nil {
		t.Fatal(err)
	}

	res, err := f.shredder.Shred(ctx, "patient-1", "patient request", By(audit.Actor{UserID: "user-7"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Repeated {
		t.Fatal("first shred reported as repeated")
	}
	c, err := VerifyCertificate(res.Signed, trust(t, f.pub))
	if err != nil {
		t.Fatalf("certificate does not verify: %v", err)
	}
	if c.Subject != "patient-1" || c.Actor != "user-7" || c.Reason != "patient request" || c.Method != MethodCryptoErase ||
		!slices.Equal(c.KeyIDs, sortedIDs(w.KeyIDs)) || c.Ledger.Seq != 1 || c.Ledger.Stream != "disposal" || !c.Time.Equal(f.clock.Now()) {
		t.Fatalf("certificate %+v", c)
	}
	if _, err := f.vault.Open(ctx, phi.Binding{Subject: "patient-1", Field: "dob"}, sealed); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("open after shred: %v", err)
	}
	if _, err := f.vault.Open(ctx, phi.Binding{Subject: "patient-2", Field: "dob"}, other); err != nil {
		t.Fatalf("other patient: %v", err)
	}
	e, ok, err := f.ledger.Lookup(ctx, "patient-1")
	if err != nil || !ok || e.Statement.ID != c.ID || e.Position != c.Ledger {
		t.Fatalf("ledger lookup: %+v %v %v", e, ok, err)
	}
	evs := f.audit.Events()
	if len(evs) != 1 || evs[0].Action != audit.ActionShred || evs[0].Target.Subject != "patient-1" || evs[0].Attrs["certificate_id"] != c.ID || evs[0].Actor.UserID != "user-7" {
		t.Fatalf("audit events %+v", evs)
	}
}

func TestShredIsIdempotent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil, nil)
	f.seal(t, "patient-1", "dob", "x")
	first, err := f.shredder.Shred(ctx, "patient-1", "r1")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(3600e9)
	again, err := f.shredder.Shred(ctx, "patient-1", "a different reason")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Repeated || !bytes.Equal(first.Signed, again.Signed) {
		t.Fatal("repeated shred did not return the original certificate")
	}
	if n, err := f.ledger.Verify(ctx); err != nil || n != 1 {
		t.Fatalf("ledger has %d entries (%v), want 1", n, err)
	}
	if evs := f.audit.Events(); len(evs) != 2 || evs[1].Reason != "already_shredded" {
		t.Fatalf("audit %+v", evs)
	}
}

func TestShredRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil, holdSet{"patient-held": "hold-1"})
	f.seal(t, "patient-held", "dob", "x")
	_, err := f.shredder.Shred(ctx, "patient-held", "r")
	if !errors.Is(err, ErrLegalHold) || !strings.Contains(err.Error(), "hold-1") {
		t.Fatalf("held subject: %v", err)
	}
	if _, err := f.keys.Get(ctx, "patient-held"); err != nil {
		t.Fatalf("held subject's keys were touched: %v", err)
	}
	if evs := f.audit.Events(); len(evs) != 1 || evs[0].Outcome != audit.OutcomeFailure || evs[0].Reason != "legal_hold" {
		t.Fatalf("refusal not audited: %+v", evs)
	}
	if _, err := f.shredder.Shred(ctx, "patient-unknown", "r"); !errors.Is(err, ErrUnknownSubject) {
		t.Fatalf("unknown subject: %v", err)
	}
	for _, s := range []string{"", "_system", "a b", strings.Repeat("x", 200)} {
		if _, err := f.shredder.Shred(ctx, s, "r"); !errors.Is(err, ErrInvalidSubject) {
			t.Fatalf("subject %q: %v", s, err)
		}
	}
	for _, r := range []string{"", "a\nb", strings.Repeat("x", MaxReasonLen+1)} {
		if _, err := f.shredder.Shred(ctx, "patient-unknown", r); !errors.Is(err, ErrInvalidReason) {
			t.Fatalf("reason %q: %v", r, err)
		}
	}
	if n, _ := f.ledger.Verify(ctx); n != 0 {
		t.Fatalf("refusals recorded %d ledger entries", n)
	}
}

// A crash after the ledger append but before the keys are destroyed leaves a
// recorded disposal; the retry completes it.
func TestShredCompletesInterruptedDisposal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil, nil)
	sealed := f.seal(t, "patient-1", "dob", "x")
	// Simulate the crash: record the statement without destroying keys.
	if _, err := f.ledger.record(ctx, Statement{ID: "dc-00000000000000000000000000000001", Subject: "patient-1", Time: f.clock.Now(), Actor: "u", Reason: "r", Method: MethodCryptoErase, KeyIDs: []uint32{}}); err != nil {
		t.Fatal(err)
	}
	res, err := f.shredder.Shred(ctx, "patient-1", "retry")
	if err != nil || !res.Repeated {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if _, err := f.vault.Open(ctx, phi.Binding{Subject: "patient-1", Field: "dob"}, sealed); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("retry did not destroy the keys: %v", err)
	}
}

// Keys shredded outside disposal still get a ledger entry and certificate.
func TestShredRecordsOutsideShred(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil, nil)
	f.seal(t, "patient-1", "dob", "x")
	if _, err := f.vault.Shred(ctx, "patient-1"); err != nil {
		t.Fatal(err)
	}
	res, err := f.shredder.Shred(ctx, "patient-1", "record it")
	if err != nil || res.Repeated || len(res.Certificate.KeyIDs) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestShredFailsClosed(t *testing.T) {
	ctx := context.Background()
	ml := &memLedger{failNext: errors.New("disk full")}
	f := newFixture(t, nil, ml, nil)
	sealed := f.seal(t, "patient-1", "dob", "x")
	if _, err := f.shredder.Shred(ctx, "patient-1", "r"); err == nil {
		t.Fatal("shred succeeded without a ledger entry")
	}
	// Nothing was destroyed without a ledger entry.
	if _, err := f.vault.Open(ctx, phi.Binding{Subject: "patient-1", Field: "dob"}, sealed); err != nil {
		t.Fatalf("keys destroyed although the ledger append failed: %v", err)
	}
	f.audit.FailWith(errors.New("audit down"))
	_, err := f.shredder.Shred(ctx, "patient-1", "r")
	if err == nil || !strings.Contains(err.Error(), "audit") {
		t.Fatalf("audit failure not reported: %v", err)
	}
	f.audit.FailWith(nil)
	if res, err := f.shredder.Shred(ctx, "patient-1", "r"); err != nil || !res.Repeated {
		t.Fatalf("retry after audit failure: %+v %v", res, err)
	}
}

func TestShredErrorsDoNotLeak(t *testing.T) {
	const canary = "CANARY-7f1d-PHI"
	ctx := context.Background()
	f := newFixture(t, nil, nil, nil)
	_, err := f.shredder.Shred(ctx, "patient-"+canary, "r")
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("error %v", err)
	}
	_, err = f.shredder.Shred(ctx, "bad subject "+canary, canary+"\n")
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("error %v", err)
	}
}

// Concurrent shreds of one subject record one disposal and return the same
// certificate; shreds of different subjects all succeed.
func TestShredConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, nil, nil)
	for i := 0; i < 4; i++ {
		f.seal(t, fmt.Sprintf("patient-%d", i), "dob", "x")
	}
	var wg sync.WaitGroup
	results := make([]Result, 16)
	errs := make([]error, 16)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = f.shredder.Shred(ctx, fmt.Sprintf("patient-%d", i%4), "r")
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if first := results[i%4]; !bytes.Equal(first.Signed, results[i].Signed) {
			t.Fatalf("shred %d returned another certificate than shred %d", i, i%4)
		}
	}
	if n, err := f.ledger.Verify(ctx); err != nil || n != 4 {
		t.Fatalf("ledger has %d entries (%v), want 4", n, err)
	}
}
