package audit_test

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

func discEvent(i int, subject, purpose string, rcpt audit.Recipient) audit.Event {
	e := qEvent(i, subject, "u-clerk", audit.ActionDisclose, audit.OutcomeSuccess)
	e.Purpose, e.Recipient = purpose, rcpt
	return e
}

func TestAccountingOfDisclosures(t *testing.T) {
	now := qBase.Add(24 * time.Hour)
	health := audit.Recipient{Kind: audit.RecipientOrganization, Name: "County Health Dept", Address: "1 Main St"}
	insurer := audit.Recipient{Kind: audit.RecipientOrganization, Name: "Acme Insurance"}
	old := discEvent(0, "p1", "public_health", health)
	old.Time = now.AddDate(-audit.DefaultRetentionYears, 0, 0).Add(-time.Hour) // outside the six years
	emergency := qEvent(3, "p1", "u3", audit.ActionRead, audit.OutcomeSuccess)
	emergency.Actor.Emergency, emergency.Actor.EmergencyReason = true, "cardiac arrest"
	emergency.Purpose = "emergency_treatment"
	failed := discEvent(8, "p1", "law_enforcement", audit.Recipient{Name: "Officer Doe", Kind: audit.RecipientPerson})
	failed.Outcome = audit.OutcomeFailure
	recs := qChain(t, "s1", []audit.Event{
		old,
		qEvent(1, "p1", "u1", audit.ActionRead, audit.OutcomeSuccess), // treatment access: no recipient
		discEvent(2, "p2", "public_health", health),                   // another patient
		emergency, // internal use: no recipient
		discEvent(4, "p1", "public_health", health),                    // listed
		discEvent(5, "p1", audit.PurposePayment, insurer),              // TPO: excluded
		qEvent(6, "p1", "u1", audit.ActionLogin, audit.OutcomeSuccess), // not a disclosure
		discEvent(7, "p1%", "public_health", health),                   // look-alike subject
		failed,
		discEvent(9, "p1", "", health), // no purpose: not accountable
		discEvent(10, "p1", "research", audit.Recipient{Name: "Dr. Roe", Kind: audit.RecipientPerson}), // listed
	})
	s := audit.MemorySearcher(recs)
	acc, err := audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{Subject: "p1", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Until.Equal(now) || !acc.Since.Equal(now.AddDate(-6, 0, 0)) || acc.Subject != "p1" || acc.IncludesTPO {
		t.Fatalf("period %v-%v", acc.Since, acc.Until)
	}
	if got := seqs(acc); fmt.Sprint(got) != "[5 11]" {
		t.Fatalf("default accounting lists %v, want the two non-TPO disclosures [5 11]", got)
	}
	if d := acc.Disclosures[0]; d.Recipient != health || d.Purpose != "public_health" || d.Action != audit.ActionDisclose || d.RecordID != "r-p1" || d.Stream != "s1" {
		t.Fatalf("%+v", d)
	}

	acc, err = audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{Subject: "p1", Now: now, IncludeTPO: true})
	if err != nil || fmt.Sprint(seqs(acc)) != "[2 4 5 6 10 11]" || !acc.IncludesTPO {
		t.Fatalf("with TPO: %v %v", seqs(acc), err)
	}
	if d := acc.Disclosures[1]; d.Actor.EmergencyReason != "cardiac arrest" || !d.Actor.Emergency {
		t.Fatalf("%+v", d)
	}
	acc, err = audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{Subject: "p1", Now: now, IncludeFailures: true})
	if err != nil || fmt.Sprint(seqs(acc)) != "[5 9 11]" || acc.Disclosures[1].Outcome != audit.OutcomeFailure {
		t.Fatalf("with failures: %v %v", seqs(acc), err)
	}
	acc, err = audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{Subject: "p1", Since: qBase.Add(2 * time.Minute), Until: qBase.Add(5 * time.Minute)})
	if err != nil || fmt.Sprint(seqs(acc)) != "[5]" {
		t.Fatalf("%v %v", seqs(acc), err)
	}
	if _, err := audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{}); !errors.Is(err, audit.ErrInvalidFilter) {
		t.Fatal(err)
	}
}

func seqs(acc audit.Accounting) []uint64 {
	var out []uint64
	for _, d := range acc.Disclosures {
		out = append(out, d.Seq)
	}
	return out
}

func TestRecordDisclosure(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(crand.Reader)
	l, err := audit.OpenFileLog(context.Background(), t.TempDir(), audit.FileOptions{Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rcpt := audit.Recipient{ID: "org-9", Kind: audit.RecipientOrganization, Name: "State Registry", Address: "2 Elm St"}
	ok := audit.Event{Actor: audit.Actor{UserID: "u-1"}, Target: audit.Target{Subject: "p-7", RecordType: "immunization"}, Purpose: "public_health", Recipient: rcpt}
	if err := audit.RecordDisclosure(context.Background(), l, ok); err != nil {
		t.Fatal(err)
	}
	for field, mut := range map[string]func(*audit.Event){
		"target.subject": func(e *audit.Event) { e.Target.Subject = "" },
		"recipient.name": func(e *audit.Event) { e.Recipient.Name = "" },
		"purpose":        func(e *audit.Event) { e.Purpose = "" },
		"action":         func(e *audit.Event) { e.Action = audit.ActionRead },
		"recipient.kind": func(e *audit.Event) { e.Recipient.Kind = "robot" },
	} {
		e := ok
		mut(&e)
		var fe *audit.FieldError
		if err := audit.RecordDisclosure(context.Background(), l, e); !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, audit.ErrInvalidEvent) {
			t.Errorf("%s: %v", field, err)
		}
	}
	acc, err := audit.AccountingOfDisclosures(context.Background(), audit.FileSearcher(l.Reader()), audit.AccountingRequest{Subject: "p-7"})
	if err != nil || len(acc.Disclosures) != 1 {
		t.Fatalf("%+v %v", acc, err)
	}
	if d := acc.Disclosures[0]; d.Recipient != rcpt || d.Action != audit.ActionDisclose || d.Outcome != audit.OutcomeSuccess || d.Purpose != "public_health" {
		t.Fatalf("%+v", d)
	}
	failing := audit.WriterFunc(func(context.Context, audit.Event) error { return errors.New("disk full") })
	if err := audit.RecordDisclosure(context.Background(), failing, ok); err == nil {
		t.Fatal("writer error swallowed")
	}
}

func ExampleAccountingOfDisclosures() {
	c, _ := audit.NewChain(audit.ChainConfig{Stream: "api-1"})
	var recs []audit.Record
	for i, purpose := range []string{"public_health", audit.PurposePayment} {
		r, _ := c.Next(audit.Event{Time: qBase.Add(time.Duration(i) * time.Hour), Action: audit.ActionDisclose, Outcome: audit.OutcomeSuccess,
			Actor: audit.Actor{UserID: "clerk-1"}, Target: audit.Target{Subject: "p-1", RecordType: "chart"}, Purpose: purpose,
			Recipient: audit.Recipient{Kind: audit.RecipientOrganization, Name: []string{"County Health Dept", "Acme Insurance"}[i]}})
		recs = append(recs, r)
	}
	acc, _ := audit.AccountingOfDisclosures(context.Background(), audit.MemorySearcher(recs),
		audit.AccountingRequest{Subject: "p-1", Now: qBase.Add(24 * time.Hour)})
	for _, d := range acc.Disclosures { // the payment disclosure is left out (164.528(a)(1))
		fmt.Println(d.Time.Format(time.DateTime), d.Recipient.Name, d.RecordType, d.Purpose)
	}
	// Output:
	// 2026-01-01 00:00:00 County Health Dept chart public_health
}

func ExampleRecordDisclosure() {
	var got audit.Event
	w := audit.WriterFunc(func(_ context.Context, e audit.Event) error { got = e; return nil })
	err := audit.RecordDisclosure(context.Background(), w, audit.Event{
		Actor: audit.Actor{UserID: "clerk-1"}, Target: audit.Target{Subject: "p-1", RecordType: "immunization"},
		Purpose: "public_health", Recipient: audit.Recipient{Kind: audit.RecipientOrganization, Name: "State Registry"},
	})
	fmt.Println(err, got.Action, got.Outcome, got.Recipient.Name)
	// Output: <nil> disclose success State Registry
}
