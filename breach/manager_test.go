package breach_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
)

var (
	officer  = audit.Actor{UserID: "u-po-1", Role: breach.RolePrivacyOfficer}
	reporter = audit.Actor{UserID: "u-it-3", Role: "it_admin"}
)

const description = "Nurse account credentials phished; after-hours chart reads from an outside address"

func newManager(t *testing.T, r breach.Resolver) (*breach.Manager, *audittest.Memory, *clock.Fake) {
	t.Helper()
	mem := &audittest.Memory{}
	clk := clock.NewFake(time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC))
	m, err := breach.New(breach.Config{Store: openFile(t, t.TempDir()), Audit: mem, Clock: clk, Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	return m, mem, clk
}

func openIncident(t *testing.T, m *breach.Manager) breach.Incident {
	t.Helper()
	inc, err := m.Open(context.Background(), reporter, breach.OpenRequest{DiscoveredOn: "2026-03-03", TimeZone: "America/New_York",
		Description: description, Vector: "stolen_credentials"})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

var assessment = breach.Assessment{
	Nature:     "Demographics, dates of birth, diagnoses and some social security numbers; directly identifying",
	Person:     "Unknown outside party using a phished workforce account",
	Acquired:   "Pages were rendered to the outside address, so the PHI was viewed",
	Mitigation: "Account disabled, sessions revoked, password and MFA reset within two hours",
	Conclusion: breach.ConclusionBreach, Reason: "Low probability of compromise cannot be shown for viewed identifiers",
}

func TestIncidentLifecycleAndHistory(t *testing.T) {
	ctx := context.Background()
	m, mem, clk := newManager(t, nil)
	inc := openIncident(t, m)
	if inc.Status() != breach.StatusOpen || inc.Get(breach.FieldReportedBy) != reporter.UserID || !breach.ValidID(inc.ID) {
		t.Fatalf("opened incident: %+v", inc)
	}
	if _, err := m.Assess(ctx, reporter, inc.ID, assessment); !errors.Is(err, breach.ErrForbidden) {
		t.Fatalf("assessment by a non-officer: %v, want ErrForbidden", err)
	}
	if _, err := m.Close(ctx, officer, inc.ID); !errors.Is(err, breach.ErrTransition) {
		t.Fatalf("closing an unassessed incident: %v, want ErrTransition", err)
	}
	clk.Advance(time.Hour)
	inc, err := m.Assess(ctx, officer, inc.ID, assessment)
	if err != nil || inc.Status() != breach.StatusAssessed || inc.Get(breach.FieldAssessedBy) != officer.UserID {
		t.Fatalf("Assess: %v, %+v", err, inc)
	}
	if _, err := m.Close(ctx, officer, inc.ID); !errors.Is(err, breach.ErrTransition) {
		t.Fatalf("closing a breach before its notices: %v, want ErrTransition", err)
	}
	if _, err := m.Update(ctx, officer, inc.ID, map[breach.Field]string{breach.FieldDelayUntil: "2026-04-15",
		breach.FieldDelayNote: "Written request of the investigating agency under 164.412(a)"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.MarkNotified(ctx, officer, inc.ID, "2026-04-20"); err != nil {
		t.Fatal(err)
	}
	if inc, err = m.Close(ctx, officer, inc.ID); err != nil || inc.Status() != breach.StatusClosed {
		t.Fatalf("Close: %v", err)
	}
	if _, err := m.Update(ctx, officer, inc.ID, map[breach.Field]string{breach.FieldVector: "phishing"}); !errors.Is(err, breach.ErrTransition) {
		t.Fatalf("changing a closed incident: %v, want ErrTransition", err)
	}
	hist, err := m.History(ctx, inc.ID)
	if err != nil || len(hist) != 5 {
		t.Fatalf("History: %d entries, %v; want 5", len(hist), err)
	}
	// every change says who, when and the prior value
	a := hist[1]
	if a.Op != "assess" || a.By.UserID != officer.UserID || !a.At.Equal(time.Date(2026, 3, 4, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("assessment entry: %+v", a)
	}
	for _, c := range a.Changes {
		if c.Field == breach.FieldStatus && (c.Prior != "open" || c.New != "assessed") {
			t.Fatalf("status change %+v, want open -> assessed", c)
		}
	}
	// every change is audited first
	var ops []string
	for _, e := range mem.Events() {
		if e.Target.RecordType == breach.RecordType && e.Outcome == audit.OutcomeSuccess {
			ops = append(ops, string(e.Action))
		}
	}
	if got := strings.Join(ops, " "); got != "breach.open breach.assess breach.update breach.status breach.status" {
		t.Fatalf("audited operations: %s", got)
	}
	// the file store reads back the same history
	list, err := m.List(ctx)
	if err != nil || len(list) != 1 || list[0].Version != 5 {
		t.Fatalf("List: %v %+v", err, list)
	}
}

func TestNoAuditNoChange(t *testing.T) {
	ctx := context.Background()
	m, mem, _ := newManager(t, nil)
	inc := openIncident(t, m)
	mem.FailWith(errors.New("disk full"))
	if _, err := m.Assess(ctx, officer, inc.ID, assessment); !errors.Is(err, breach.ErrAudit) {
		t.Fatalf("Assess with a failing audit: %v, want ErrAudit", err)
	}
	mem.FailWith(nil)
	if got, _ := m.Get(ctx, inc.ID); got.Version != 1 || got.Status() != breach.StatusOpen {
		t.Fatalf("the change happened without its audit event: %+v", got)
	}
}

func TestIncidentTextRefusesPHI(t *testing.T) {
	ctx := context.Background()
	m, _, _ := newManager(t, nil)
	for _, canary := range []string{
		"Patient jane.doe@example.com called about records sent to the wrong fax",
		"Laptop with the chart of MRN 48213377 stolen from the car",
		"Records of the patient born 1961-04-17 were mailed to a neighbour",
		"Call back the patient at (555) 123-4567 about the lost paperwork",
		"SSN 123-45-6789 visible in the shared spreadsheet attachment",
	} {
		_, err := m.Open(ctx, reporter, breach.OpenRequest{DiscoveredOn: "2026-03-03", TimeZone: "UTC", Description: canary})
		if !errors.Is(err, breach.ErrPHIText) {
			t.Errorf("description with PHI accepted or wrong error: %v", err)
			continue
		}
		for _, part := range strings.Fields(canary) {
			if len(part) > 6 && strings.ContainsAny(part, "0123456789@") && strings.Contains(err.Error(), part) {
				t.Errorf("error quotes the text: %v", err)
			}
		}
	}
	for _, r := range []breach.OpenRequest{
		{DiscoveredOn: "2026-03-03", TimeZone: "UTC", Description: "lost"},
		{DiscoveredOn: "03/03/2026", TimeZone: "UTC", Description: description},
		{DiscoveredOn: "2026-03-03", TimeZone: "Mars/Olympus", Description: description},
		{DiscoveredOn: "2026-03-03", TimeZone: "UTC", Description: description + "\x1b[2J"},
	} {
		if _, err := m.Open(ctx, reporter, r); !errors.Is(err, breach.ErrInvalid) {
			t.Errorf("Open(%+v): %v, want ErrInvalid", r.DiscoveredOn, err)
		}
	}
}

// resolver is a directory of patients whose names hold a canary.
type resolver struct{ fail bool }

func canary(s string) string { return "CANARY-" + s + "-Zebulon Quixote" }

func (r resolver) Locate(_ context.Context, s string) (breach.Residence, error) {
	if r.fail {
		return breach.Residence{}, errors.New("directory down for " + canary(s))
	}
	st := "NY"
	if strings.HasSuffix(s, "7") {
		st = "NJ"
	}
	return breach.Residence{State: st, ContactSufficient: !strings.HasSuffix(s, "9")}, nil
}

func (r resolver) Contact(_ context.Context, s string) (breach.Contact, error) {
	if r.fail {
		return breach.Contact{}, errors.New("directory down for " + canary(s))
	}
	return breach.Contact{Name: phi.NewText(canary(s)), Address: phi.NewText("=1 Main St\nApt " + s), Email: phi.NewText(s + "@example.org")}, nil
}

func TestMailingListAuditedAndDisclosed(t *testing.T) {
	ctx := context.Background()
	m, mem, _ := newManager(t, resolver{})
	inc := openIncident(t, m)
	tr := fileTrail(t)
	simulate(t, tr.w)
	tr.close()
	sc, err := breach.ComputeScope(ctx, breach.ScopeRequest{Entries: tr.entries, Verify: audit.VerifyOptions{Keys: tr.keys}, Indicators: nightIndicators()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RecordScope(ctx, officer, inc.ID, sc); err != nil {
		t.Fatal(err)
	}
	mailHouse := audit.Recipient{Kind: audit.RecipientOrganization, Name: "Acme Mailing Services", Address: "PO Box 12, Albany NY"}
	var out bytes.Buffer
	if _, err := m.RevealContacts(ctx, officer, inc.ID, breach.MailingRequest{Scope: sc, Recipient: mailHouse}, &out); !errors.Is(err, breach.ErrTransition) {
		t.Fatalf("mailing list before the assessment: %v, want ErrTransition", err)
	}
	if _, err := m.Assess(ctx, officer, inc.ID, assessment); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RevealContacts(ctx, reporter, inc.ID, breach.MailingRequest{Scope: sc, Recipient: mailHouse}, &out); !errors.Is(err, breach.ErrForbidden) {
		t.Fatalf("mailing list by a non-officer: %v, want ErrForbidden", err)
	}
	if last := mem.Last(); last.Action != audit.ActionPermissionDenied || out.Len() != 0 {
		t.Fatalf("refused reveal: last event %s, %d bytes written", last.Action, out.Len())
	}
	n, err := m.RevealContacts(ctx, officer, inc.ID, breach.MailingRequest{Scope: sc, Recipient: mailHouse}, &out)
	if err != nil || n != 40 {
		t.Fatalf("RevealContacts: %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(out.String(), canary("p-100")) || !strings.Contains(out.String(), `,'=1 Main St\nApt p-100,`) {
		t.Fatalf("mailing list lacks the contact or does not defuse cells:\n%s", lines[1])
	}
	if got := len(mem.EventsWith(audit.ActionReveal)); got != 40 {
		t.Fatalf("%d audited reveals, want 40", got)
	}
	// the accounting of disclosures of an affected patient shows the mail house
	acc, err := audit.AccountingOfDisclosures(ctx, audit.VerifiedSearcher(mem.Entries, audit.VerifyOptions{}), audit.AccountingRequest{Subject: "p-117", Now: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(acc.Disclosures) != 1 || acc.Disclosures[0].Recipient.Name != mailHouse.Name || acc.Disclosures[0].Purpose != breach.PurposeNotification {
		t.Fatalf("accounting of p-117: %v %+v", err, acc.Disclosures)
	}
	// counts and plan through the resolver's Locate only
	c, err := breach.CountResidents(ctx, resolver{}, sc)
	if err != nil || c.Total != 40 || c.ByState["NJ"] != 4 || c.InsufficientContact != 4 {
		t.Fatalf("counts %+v, %v", c, err)
	}
	// no canary anywhere but the mailing list itself
	assertNoCanary(t, "audit trail", fmt.Sprint(mem.Events()))
	var js strings.Builder
	_ = breach.WriteScopeJSON(&js, sc)
	assertNoCanary(t, "scope", js.String())
	contact, _ := resolver{}.Contact(ctx, "p-100")
	b, _ := json.Marshal(contact)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("contact", "c", contact)
	assertNoCanary(t, "contact under fmt, JSON and slog", fmt.Sprintf("%v %+v %#v %s", contact, contact, contact, b)+logged.String())
	// resolver errors do not leak what the resolver said
	_, err = breach.CountResidents(ctx, resolver{fail: true}, sc)
	if !errors.Is(err, breach.ErrResolver) {
		t.Fatalf("failing resolver: %v", err)
	}
	assertNoCanary(t, "resolver error", err.Error())
}

func assertNoCanary(t *testing.T, where, s string) {
	t.Helper()
	if strings.Contains(s, "CANARY") || strings.Contains(s, "Zebulon") {
		t.Fatalf("%s holds contact details", where)
	}
}

// TestRandomUserIDsAccepted: opaque identifiers are not text; long digit
// runs in them are not PHI.
func TestRandomUserIDsAccepted(t *testing.T) {
	m, _, _ := newManager(t, nil)
	actor := audit.Actor{UserID: "u4829301775512", Role: breach.RolePrivacyOfficer}
	inc, err := m.Open(context.Background(), actor, breach.OpenRequest{DiscoveredOn: "2026-03-03", TimeZone: "UTC", Description: description})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Assess(context.Background(), actor, inc.ID, assessment); err != nil {
		t.Fatal(err)
	}
}
