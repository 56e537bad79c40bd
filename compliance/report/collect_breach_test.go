package report_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/compliance/report"
)

// TestCollectOpenIncidents (issue 18): the report lists each incident
// still owing a notice with its next deadline; once that deadline passed,
// breach notification is not met, the incident and the notice named.
func TestCollectOpenIncidents(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	ctx := context.Background()
	store, err := breach.OpenFileStore(filepath.Join(d.dir, hipaakit.DirBreach), breach.FileConfig{})
	must(t, err)
	mem, err := audittest.NewMemory("breach", nil)
	must(t, err)
	m, err := breach.New(breach.Config{Store: store, Audit: mem, Clock: d.clk})
	must(t, err)
	discovered := fixtureStart.UTC().Format(time.DateOnly)
	inc, err := m.Open(ctx, audit.Actor{UserID: "u-privacy"}, breach.OpenRequest{DiscoveredOn: discovered, TimeZone: "America/New_York",
		Description: "an unencrypted laptop was lost in transit by courier", Vector: "lost_laptop"})
	must(t, err)
	must(t, store.Close())

	for _, c := range []struct {
		at     time.Time
		status report.Status
		want   string
	}{
		{fixtureStart.Add(time.Hour), report.Met, "incident " + inc.ID + " (open, discovered " + discovered + ", 0 affected): next notice individuals (164.404) due"},
		{fixtureStart.Add(70 * 24 * time.Hour), report.NotMet, "incident " + inc.ID + " (open, discovered " + discovered + ", 0 affected): the individuals notice (164.404) was due"},
	} {
		ev, err := report.Collect(ctx, d.config(), c.at)
		must(t, err)
		if ev.Incidents == nil || ev.Incidents.Incidents != 1 || len(ev.Incidents.Open) != 1 {
			t.Fatalf("incidents: %+v, notes %q", ev.Incidents, ev.Notes)
		}
		r := row(t, report.Build(ev), "164.404-164.410")
		if text := strings.Join(append(r.Evidence, r.Gaps...), "\n"); r.Status != c.status || !strings.Contains(text, c.want) {
			t.Errorf("at %v: %s %q %q, want %s with %q", c.at, r.Status, r.Evidence, r.Gaps, c.status, c.want)
		}
		if strings.Contains(strings.Join(append(r.Evidence, r.Gaps...), "\n"), "laptop") {
			t.Error("the incident's description reached the report")
		}
	}
}
