package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/durable"
)

// breachManager is the incident manager over the deployment's incident
// store (hipaakit.Tool.Incidents), recording to the run's audit stream,
// opened on the first event: listing and showing incidents claim none.
// dir, when not nil, is the Resolver (notify --directory).
func breachManager(ctx context.Context, t *hipaakit.Tool, dir *breach.Directory) (*breach.Manager, error) {
	store, err := t.Incidents()
	if err != nil {
		return nil, err
	}
	cfg := breach.Config{Store: store, Audit: t.LazyAudit(ctx)}
	if dir != nil {
		cfg.Resolver = dir
	}
	return breach.New(cfg)
}

// errShreddedUnchecked reports that breach scope could not open the
// disposal ledger, so it cannot mark the shredded subjects of the scope;
// its detail is a *shreddedUncheckedError. Scoping then stops (exit 3)
// unless --no-shredded-check asks for a scope without the marks, which is
// reported on stderr.
var errShreddedUnchecked = errors.New("the disposal ledger cannot be opened to mark shredded subjects; " +
	"fix that or pass --no-shredded-check to scope without the marks")

// shreddedUncheckedError is errShreddedUnchecked with the step that failed
// and its cause (without paths).
type shreddedUncheckedError struct {
	Step string // "signing key" or "ledger"
	Err  error
}

func (e *shreddedUncheckedError) Error() string {
	return fmt.Sprintf("%v (%s: %v)", errShreddedUnchecked, e.Step, e.Err)
}

func (e *shreddedUncheckedError) Is(target error) bool { return target == errShreddedUnchecked }

// shreddedCheck looks subjects up in the disposal ledger, opened read-only;
// a ledger that cannot be opened is a *shreddedUncheckedError, never a
// silent "not shredded".
func shreddedCheck(ctx context.Context, t *hipaakit.Tool) (func(context.Context, string) (bool, error), error) {
	if _, err := t.SigningKey(); err != nil {
		var ue *drUsageError
		if errors.As(usageOf(err), &ue) {
			return nil, &shreddedUncheckedError{Step: "signing key", Err: errors.New(ue.msg)}
		}
		return nil, &shreddedUncheckedError{Step: "signing key", Err: durable.WithoutPath(err)}
	}
	l, err := t.ReadLedger(ctx)
	if err != nil {
		return nil, &shreddedUncheckedError{Step: "ledger", Err: durable.WithoutPath(err)}
	}
	return func(ctx context.Context, s string) (bool, error) {
		_, found, err := l.Lookup(ctx, s)
		return found, err
	}, nil
}

// incidentRow is an incident in list and report output.
type incidentRow struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Discovered string    `json:"discovered_on"`
	TimeZone   string    `json:"time_zone"`
	Affected   int       `json:"affected"`
	Conclusion string    `json:"conclusion,omitempty"`
	NextNotice string    `json:"next_notice,omitempty"`
	NextDue    string    `json:"next_due,omitempty"`
	DueBy      time.Time `json:"due_by,omitzero"`
	Overdue    bool      `json:"overdue"`
}

func rowOf(inc *breach.Incident, now time.Time) incidentRow {
	r := incidentRow{ID: inc.ID, Status: string(inc.Status()), Discovered: inc.Get(breach.FieldDiscoveredOn),
		TimeZone: inc.Get(breach.FieldTimeZone), Affected: inc.Affected(), Conclusion: string(inc.Conclusion())}
	if next, err := breach.NextNotice(inc); err == nil && next != nil {
		r.NextNotice, r.NextDue, r.DueBy, r.Overdue = string(next.Kind), next.Due, next.DueBy, next.Overdue(now)
	}
	return r
}

// printIncidents lists incidents (report: the open ones, exit 1 when a
// notice is overdue).
func printIncidents(c *cli, m *breach.Manager, incs []breach.Incident, format string, report bool) error {
	now := m.Now()
	rows := []incidentRow{}
	overdue := 0
	for i := range incs {
		if report && incs[i].Status() == breach.StatusClosed {
			continue
		}
		r := rowOf(&incs[i], now)
		if r.Overdue {
			overdue++
		}
		rows = append(rows, r)
	}
	if format == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tDISCOVERED\tZONE\tAFFECTED\tCONCLUSION\tNEXT\tDUE\tOVERDUE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%t\n", r.ID, r.Status, r.Discovered, audit.EscapeText(r.TimeZone),
				r.Affected, r.Conclusion, r.NextNotice, r.NextDue, r.Overdue)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if report && overdue > 0 {
		return fmt.Errorf("%d open incident(s) with a notice past its deadline: %w", overdue, errOverdue)
	}
	return nil
}

// showIncident prints an incident's fields and its history.
func showIncident(ctx context.Context, c *cli, m *breach.Manager, id, format string) error {
	inc, err := m.Get(ctx, id)
	if err != nil {
		return err
	}
	hist, err := m.History(ctx, id)
	if err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			ID      string                  `json:"id"`
			Fields  map[breach.Field]string `json:"fields"`
			History []breach.Entry          `json:"history"`
		}{inc.ID, inc.Fields, hist})
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "incident\t%s\n", inc.ID)
	for _, f := range []breach.Field{breach.FieldStatus, breach.FieldDiscoveredOn, breach.FieldTimeZone, breach.FieldEntity,
		breach.FieldReportedBy, breach.FieldDescription, breach.FieldVector, breach.FieldDelayUntil, breach.FieldDelayNote,
		breach.FieldNature, breach.FieldPerson, breach.FieldAcquired, breach.FieldMitigation, breach.FieldConclusion,
		breach.FieldConclusionWhy, breach.FieldAssessedBy, breach.FieldScopeDigest, breach.FieldAffected, breach.FieldExcluded,
		breach.FieldNotifiedOn} {
		if v := inc.Get(f); v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", f, audit.EscapeText(v))
		}
	}
	fmt.Fprintln(tw, "\nSEQ\tAT\tBY\tOP\tFIELD\tPRIOR\tNEW")
	for _, e := range hist {
		for _, ch := range e.Changes {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.Format(time.RFC3339), audit.EscapeText(e.By.UserID), e.Op,
				ch.Field, short(audit.EscapeText(ch.Prior)), short(audit.EscapeText(ch.New)))
		}
	}
	return tw.Flush()
}

func short(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:57]) + "..."
	}
	return s
}
