package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/breach/pgbreach"
)

// IncidentEvidence covers breach response (45 CFR 164.400-414): the
// incidents on record and, for each one not yet notified or closed, the
// notice due first.
type IncidentEvidence struct {
	Incidents int            `json:"incidents"`
	Open      []OpenIncident `json:"open,omitempty"`
}

// OpenIncident is an incident whose notices are still owed. Deadlines run
// from discovery whether or not the incident is scoped yet; before scoping
// the count is unknown, so at least the individual notice and the HHS log
// are owed.
type OpenIncident struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Discovered string    `json:"discovered_on"`
	Affected   int       `json:"affected"`
	NextNotice string    `json:"next_notice,omitempty"`
	Rule       string    `json:"rule,omitempty"`
	NextDue    string    `json:"next_due,omitempty"`
	DueBy      time.Time `json:"due_by,omitzero"`
	Overdue    bool      `json:"overdue"`
}

// incidentStore opens the deployment's incident store, reading only: the
// file store only when its file exists (so nothing is created), the
// PostgreSQL store on the read-only pool when its table exists. nil, nil:
// there is none.
func (c *collector) incidentStore(ctx context.Context) (breach.Store, func(), error) {
	if c.in.DB != nil {
		var exists bool
		if err := c.in.DB.QueryRow(ctx, `SELECT to_regclass('breach_entries') IS NOT NULL`).Scan(&exists); err != nil {
			return nil, nil, err
		}
		if !exists {
			return nil, nil, nil
		}
		s, err := pgbreach.New(c.in.DB, pgbreach.Config{})
		return s, func() {}, err
	}
	dir := filepath.Join(c.cfg.DataDir, hipaakit.DirBreach)
	if _, err := os.Stat(filepath.Join(dir, breach.FileName)); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	s, err := breach.OpenFileStore(dir, breach.FileConfig{})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}

// breachEvidence lists the incidents still owing notices, with the next
// deadline of each.
func (c *collector) breachEvidence(ctx context.Context) {
	store, closeStore, err := c.incidentStore(ctx)
	if err != nil {
		c.note("breach: the incident store cannot be read: %v", err)
		return
	}
	ie := &IncidentEvidence{}
	c.ev.Incidents = ie
	if store == nil {
		return // the service never opened an incident store: no incident is on record
	}
	defer closeStore()
	ids, err := store.IDs(ctx)
	if err != nil {
		c.ev.Incidents = nil
		c.note("breach: the incidents cannot be listed: %v", err)
		return
	}
	for _, id := range ids {
		entries, err := store.Entries(ctx, id)
		if err != nil {
			c.ev.Incidents = nil
			c.note("breach: incident %s cannot be read: %v", id, err)
			return
		}
		inc, err := breach.Fold(entries)
		if err != nil {
			c.ev.Incidents = nil
			c.note("breach: incident %s does not fold: %v", id, err)
			return
		}
		ie.Incidents++
		if s := inc.Status(); s == breach.StatusNotified || s == breach.StatusClosed {
			continue
		}
		ie.Open = append(ie.Open, openIncident(&inc, c.now))
	}
}

// openIncident states the next notice inc owes at now.
func openIncident(inc *breach.Incident, now time.Time) OpenIncident {
	o := OpenIncident{ID: inc.ID, Status: string(inc.Status()), Discovered: inc.Get(breach.FieldDiscoveredOn), Affected: inc.Affected()}
	if next, err := breach.NextNotice(inc); err == nil && next != nil {
		o.NextNotice, o.Rule, o.NextDue, o.DueBy, o.Overdue = string(next.Kind), next.Rule, next.Due, next.DueBy, next.Overdue(now)
	}
	return o
}

// breachRow: open incidents are listed with their next deadline; an
// overdue notice is a gap.
func breachRow(ie *IncidentEvidence) Row {
	row := Row{Control: "164.404-164.410", Title: "Breach notification"}
	if ie == nil {
		row.Status = NoEvidence
		return row
	}
	if len(ie.Open) == 0 {
		judge(&row, true, strconv.Itoa(ie.Incidents)+" incidents on record, none owing a notice", "")
		return row
	}
	for _, o := range ie.Open {
		line := "incident " + o.ID + " (" + o.Status + ", discovered " + o.Discovered + ", " + strconv.Itoa(o.Affected) + " affected)"
		switch {
		case o.NextNotice == "":
			judge(&row, false, "", line+": its notice deadlines cannot be computed (time zone or discovery date missing)")
		case o.Overdue:
			judge(&row, false, "", line+": the "+o.NextNotice+" notice ("+o.Rule+") was due "+o.NextDue+" and is overdue")
		default:
			judge(&row, true, line+": next notice "+o.NextNotice+" ("+o.Rule+") due "+o.NextDue, "")
		}
	}
	return row
}
