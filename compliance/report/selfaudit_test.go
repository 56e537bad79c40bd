package report

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestSelfAuditDailyAndRegression: on a fake clock the self-audit runs
// once a day (a second call the same day does nothing), records each
// result in the audit trail, and a control that goes from met to not met
// calls the alert hook with that control, once.
func TestSelfAuditDailyAndRegression(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC))
	mem := &audittest.Memory{}
	ev := goodEvidence()
	var alerts []Regression
	sa, err := NewSelfAudit(SelfAuditConfig{Clock: clk, Audit: mem, Entries: mem.Entries,
		Collect: func(context.Context, time.Time) (Evidence, error) {
			return ev, nil // stamped reportNow: the evidence's own ages stay fixed
		},
		OnRegression: func(_ context.Context, r Regression) { alerts = append(alerts, r) }})
	if err != nil {
		t.Fatal(err)
	}
	mustRun := func(want bool) {
		t.Helper()
		ran, err := sa.RunDue(ctx)
		if err != nil || ran != want {
			t.Fatalf("RunDue at %v = %v, %v; want %v", clk.Now(), ran, err, want)
		}
	}
	mustRun(true)
	clk.Advance(10 * time.Hour) // same day
	mustRun(false)
	clk.Advance(5 * time.Hour) // the next day (UTC)
	enc := *ev.Encryption
	enc.KeyBesideDataDir = true
	ev.Encryption = &enc
	mustRun(true)
	mustRun(false)
	evs := mem.EventsWith(SelfAuditAction)
	if len(evs) != 2 || evs[0].Attrs["period"] != "2026-11-22T00:00:00Z" || evs[1].Attrs["period"] != "2026-11-23T00:00:00Z" ||
		!strings.Contains(evs[1].Attrs["not_met"], "164.312(a)(2)(iv)") {
		t.Fatalf("recorded self-audits: %+v", evs)
	}
	if len(alerts) != 1 || strings.Join(alerts[0].Controls, ",") != "164.312(a)(2)(iv)" || alerts[0].Period != "2026-11-23T00:00:00Z" {
		t.Fatalf("alerts: %+v", alerts)
	}
	// Not met stays not met: no new alert.
	clk.Advance(24 * time.Hour)
	mustRun(true)
	if len(alerts) != 1 {
		t.Fatalf("alerts after a second not-met day: %+v", alerts)
	}
}

// TestSelfAuditReplicasRunOncePerPeriod: replicas sharing one trail and one
// PostgreSQL database (AdvisoryLock) start RunDue together behind a
// barrier; exactly one runs, exactly one result is recorded, and a
// regression alerts exactly once. Run with -count=20.
func TestSelfAuditReplicasRunOncePerPeriod(t *testing.T) {
	pool, _ := hipaakittest.PostgresSchema(t)
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC))
	mem := &audittest.Memory{}
	var mu sync.Mutex
	met := true
	collect := func(context.Context, time.Time) (Evidence, error) {
		time.Sleep(20 * time.Millisecond) // widens the window between the check and the record
		e := goodEvidence()
		mu.Lock()
		defer mu.Unlock()
		if !met {
			e.Audit = nil // no evidence any more: a regression
		}
		return e, nil
	}
	alerts := 0
	lock := AdvisoryLock(pool, "test")
	const replicas = 4
	var sas []*SelfAudit
	for range replicas {
		sa, err := NewSelfAudit(SelfAuditConfig{Clock: clk, Audit: mem, Entries: mem.Entries, Collect: collect,
			Lock: lock, OnRegression: func(context.Context, Regression) { mu.Lock(); alerts++; mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		sas = append(sas, sa)
	}
	race := func() int {
		var wg sync.WaitGroup
		start := make(chan struct{})
		ran := make(chan bool, replicas)
		for _, sa := range sas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, err := sa.RunDue(ctx)
				if err != nil {
					t.Error(err)
				}
				ran <- r
			}()
		}
		close(start)
		wg.Wait()
		close(ran)
		n := 0
		for r := range ran {
			if r {
				n++
			}
		}
		return n
	}
	if n := race(); n != 1 {
		t.Fatalf("%d replicas ran the first period, want 1", n)
	}
	clk.Advance(24 * time.Hour)
	mu.Lock()
	met = false
	mu.Unlock()
	if n := race(); n != 1 {
		t.Fatalf("%d replicas ran the second period, want 1", n)
	}
	if n := len(mem.EventsWith(SelfAuditAction)); n != 2 {
		t.Fatalf("%d self-audit events, want 2", n)
	}
	if alerts != 1 {
		t.Fatalf("%d alerts, want 1", alerts)
	}
}
