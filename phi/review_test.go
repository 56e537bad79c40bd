package phi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/phi"
)

const (
	reviewSubject = "p-review-1"
	reviewTenant  = "t1"
	priorCanary   = "1961-04-02-PRIOR-CANARY"
	newCanary     = "1962-05-03-NEW-CANARY"
)

// reviewSetup is a Vault auditing to memory and a file trail holding the
// change events of a patient's date of birth: created with priorCanary,
// then (after a subject-key and a KEK rotation) changed to newCanary.
type reviewSetup struct {
	env     *env
	reveals *audittest.Memory
	history audit.History
}

var reviewer = audit.Actor{UserID: "u-auditor", TenantID: reviewTenant, Role: "auditor"}

func newReviewSetup(t *testing.T) *reviewSetup {
	t.Helper()
	mem := &audittest.Memory{}
	info := func(context.Context) (audit.Actor, audit.Origin) {
		return reviewer, audit.Origin{Channel: audit.ChannelAPI, Route: "POST /history/reveal"}
	}
	e := newEnvWith(t, phi.VaultConfig{Audit: mem, AuditInfo: info})
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	l, err := audit.OpenFileLog(ctx, t.TempDir(), audit.FileOptions{Signer: key, Stream: "review"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	trail := audit.NewFileTrail(l)
	b := phi.Binding{Subject: reviewSubject, Field: "dob", Tenant: reviewTenant, Record: reviewSubject}
	target := audit.Target{RecordType: "patient", RecordID: reviewSubject, Field: "dob", Subject: reviewSubject}
	first := mustSeal(t, e.vault, b, priorCanary)
	write := func(action audit.Action, c *audit.Change) {
		if err := trail.Write(ctx, audit.Event{Time: e.clock.Now(), Action: action, Outcome: audit.OutcomeSuccess,
			Actor: audit.Actor{UserID: "u-doc"}, Target: target, Change: c}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
	}
	write(audit.ActionCreate, &audit.Change{New: first})
	if _, err := e.vault.RotateSubjectKey(ctx, reviewSubject); err != nil {
		t.Fatal(err)
	}
	if err := e.vault.RotateKEK(ctx, testKEK(t, 2), nil); err != nil {
		t.Fatal(err)
	}
	second := mustSeal(t, e.vault, b, newCanary)
	write(audit.ActionUpdate, &audit.Change{New: second, Prior: first})
	h, err := audit.RecordHistory(ctx, trail, audit.HistoryRequest{Subject: reviewSubject, Field: "dob"})
	if err != nil || len(h.Entries) != 2 {
		t.Fatalf("history: %v, %d entries", err, len(h.Entries))
	}
	return &reviewSetup{env: e, reveals: mem, history: h}
}

func (s *reviewSetup) reviewer(t *testing.T, permitted func(context.Context) bool) *phi.Reviewer {
	t.Helper()
	r, err := phi.NewReviewer(phi.ReviewerConfig{Vault: s.env.vault, Permitted: permitted,
		Binding: func(e audit.HistoryEntry) phi.Binding {
			b := phi.DefaultChangeBinding(e)
			b.Tenant = reviewTenant
			return b
		}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func allow(context.Context) bool { return true }

// A permitted reviewer reads the prior and new values of each change, after
// a subject-key and a KEK rotation; each value opened is one reveal event
// with purpose audit_review naming the audit record, written before the
// value is returned.
func TestReviewerOpensPriorAndNewValues(t *testing.T) {
	s := newReviewSetup(t)
	r := s.reviewer(t, allow)
	created, err := r.Review(ctx, s.history.Entries[0])
	if err != nil {
		t.Fatal(err)
	}
	if created.New.State != phi.ValueRevealed || created.New.Value.Reveal() != priorCanary || created.Prior.State != phi.ValueAbsent {
		t.Fatalf("create: new %s, prior %s", created.New.State, created.Prior.State)
	}
	updated, err := r.Review(ctx, s.history.Entries[1])
	if err != nil {
		t.Fatal(err)
	}
	if updated.Prior.Value.Reveal() != priorCanary || updated.New.Value.Reveal() != newCanary ||
		updated.Stream != "review" || updated.Seq != s.history.Entries[1].Seq || updated.Field != "dob" {
		t.Fatalf("update: %s/%d %s prior %s new %s", updated.Stream, updated.Seq, updated.Field, updated.Prior.State, updated.New.State)
	}
	evs := s.reveals.EventsWith(audit.ActionReveal)
	if len(evs) != 3 {
		t.Fatalf("%d reveal events, want 3 (one per value opened)", len(evs))
	}
	for i, want := range []string{"new", "prior", "new"} {
		ev := evs[i]
		if ev.Outcome != audit.OutcomeSuccess || ev.Purpose != string(phi.PurposeAuditReview) || ev.Actor != reviewer ||
			ev.Target.Subject != reviewSubject || ev.Target.Field != "dob" || ev.Attrs["value"] != want ||
			ev.Attrs["audit_stream"] != "review" || ev.Attrs["audit_seq"] == "" {
			t.Errorf("reveal event %d: %+v", i, ev)
		}
	}
}

// Without the permission (or with no Permitted at all) nothing is opened,
// and the refusal is recorded.
func TestReviewerRefusesWithoutPermission(t *testing.T) {
	s := newReviewSetup(t)
	for name, permitted := range map[string]func(context.Context) bool{
		"nil": nil, "denied": func(context.Context) bool { return false },
	} {
		before := len(s.reveals.Events())
		got, err := s.reviewer(t, permitted).Review(ctx, s.history.Entries[1])
		if !errors.Is(err, phi.ErrReviewDenied) || got.New.State != "" || got.Prior.Value.Reveal() != "" {
			t.Fatalf("%s: %v %+v", name, err, got)
		}
		evs := s.reveals.Events()[before:]
		if len(evs) != 1 || evs[0].Action != audit.ActionReveal || evs[0].Outcome != audit.OutcomeFailure ||
			evs[0].Reason != "no_permission" || evs[0].Purpose != "audit_review" || evs[0].Actor != reviewer {
			t.Fatalf("%s: refusal events %+v", name, evs)
		}
	}
	// A refusal that cannot be recorded is an audit failure as well.
	s.reveals.FailWith(errDiskFull)
	if _, err := s.reviewer(t, nil).Review(ctx, s.history.Entries[1]); !errors.Is(err, phi.ErrReviewDenied) || !errors.Is(err, phi.ErrAuditFailed) {
		t.Fatalf("unrecorded refusal: %v", err)
	}
}

// After a shred the values are reported destroyed (no error), and the
// attempts are recorded as failures with reason shredded.
func TestReviewerAfterShredReportsDestroyed(t *testing.T) {
	s := newReviewSetup(t)
	if _, err := s.env.vault.Shred(ctx, reviewSubject); err != nil {
		t.Fatal(err)
	}
	before := len(s.reveals.EventsWith(audit.ActionReveal))
	got, err := s.reviewer(t, allow).Review(ctx, s.history.Entries[1])
	if err != nil {
		t.Fatalf("review after shred: %v", err)
	}
	if got.New.State != phi.ValueDestroyed || got.Prior.State != phi.ValueDestroyed || got.New.Value.Reveal() != "" {
		t.Fatalf("after shred: new %s prior %s", got.New.State, got.Prior.State)
	}
	evs := s.reveals.EventsWith(audit.ActionReveal)[before:]
	if len(evs) != 2 || evs[0].Outcome != audit.OutcomeFailure || evs[0].Reason != "shredded" || evs[1].Reason != "shredded" {
		t.Fatalf("reveal events after shred: %+v", evs)
	}
}

// No audit, no access: a reveal that cannot be recorded returns no value.
func TestReviewerFailsClosed(t *testing.T) {
	s := newReviewSetup(t)
	s.reveals.FailWith(errDiskFull)
	got, err := s.reviewer(t, allow).Review(ctx, s.history.Entries[1])
	var re *phi.ReviewError
	if !errors.Is(err, phi.ErrAuditFailed) || !errors.As(err, &re) || re.Value != "prior" || re.Stream != "review" {
		t.Fatalf("audit down: %v", err)
	}
	if got.Prior.Value.Reveal() != "" || got.New.Value.Reveal() != "" {
		t.Fatal("a value came back unaudited")
	}
}

// The values never reach fmt, slog, JSON or an error.
func TestReviewerValuesNeverLeak(t *testing.T) {
	s := newReviewSetup(t)
	got, err := s.reviewer(t, allow).Review(ctx, s.history.Entries[1])
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", got)
		fmt.Fprintf(&out, verb+"\n", got.Prior)
		fmt.Fprintf(&out, verb+"\n", &got)
	}
	js, _ := json.Marshal(got)
	out.Write(js)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("review", "change", got, "prior", got.Prior.Value)
	// A wrong binding (another tenant) is an error, which holds no value.
	r, err := phi.NewReviewer(phi.ReviewerConfig{Vault: s.env.vault, Permitted: allow})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Review(ctx, s.history.Entries[1])
	if !errors.Is(err, phi.ErrTampered) {
		t.Fatalf("review under the wrong binding: %v", err)
	}
	out.WriteString(err.Error())
	for _, c := range []string{priorCanary, newCanary, "CANARY"} {
		if strings.Contains(out.String(), c) {
			t.Fatalf("value %q leaked:\n%s", c, out.String())
		}
	}
	if got.Prior.Value.Reveal() != priorCanary {
		t.Fatal("the test would pass without values")
	}
	if _, err := phi.NewReviewer(phi.ReviewerConfig{}); err == nil {
		t.Fatal("a Reviewer without a Vault")
	}
}
