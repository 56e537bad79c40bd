package report

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// SelfAuditAction is the audit action of a scheduled self-audit; its
// event's Attrs hold the period and the controls met, not met and without
// evidence (comma-separated control identifiers).
const SelfAuditAction audit.Action = "compliance_self_audit"

// DefaultSelfAuditEvery is how often a SelfAudit runs by default.
const DefaultSelfAuditEvery = 24 * time.Hour

// SelfAuditConfig configures NewSelfAudit.
type SelfAuditConfig struct {
	// Collect gathers the evidence at now (required): report.Collect over
	// the service's configuration, or what the service knows of itself.
	Collect func(ctx context.Context, now time.Time) (Evidence, error)
	// Audit records each run's result (required).
	Audit audit.Writer
	// Entries reads the trail Audit writes to (required): earlier results,
	// to run once per period and to see regressions
	// (hipaakit.Deployment.AuditEntries).
	Entries audit.EntrySource
	// Every is the period (default DefaultSelfAuditEvery); periods start at
	// multiples of it since the Unix epoch, in UTC.
	Every time.Duration
	// Lock serialises the check for the period's result and the run across
	// replicas: with it, exactly one replica runs each period. nil is an
	// in-process lock, enough for one process (the embedded deployment);
	// on PostgreSQL use AdvisoryLock.
	Lock func(ctx context.Context) (unlock func(), err error)
	// OnRegression is called after a run that finds a control not met that
	// the previous run found met (a regression), with those controls.
	OnRegression func(ctx context.Context, r Regression)
	// Actor is the recorded actor (default UserID "system:self-audit").
	Actor audit.Actor
	// Clock gives the period and the time of the evidence (nil: clock.System).
	Clock clock.Clock
}

// Regression is a control that was met and is not any more.
type Regression struct {
	Period   string    // the period of the run that found it
	Controls []string  // met in the previous run, not met (or without evidence) now
	Previous time.Time // when the previous run recorded its result
}

// SelfAuditResult is one run's result as recorded.
type SelfAuditResult struct {
	Period                  string
	At                      time.Time
	Met, NotMet, NoEvidence []string
}

// SelfAudit runs the report periodically and records each result in the
// audit trail, so that the regular evaluation of 164.308(a)(8) leaves a
// verifiable trace.
type SelfAudit struct {
	cfg SelfAuditConfig
	mu  sync.Mutex
}

// NewSelfAudit returns a SelfAudit; it runs only when RunDue or Loop is
// called.
func NewSelfAudit(cfg SelfAuditConfig) (*SelfAudit, error) {
	if cfg.Collect == nil || cfg.Audit == nil || cfg.Entries == nil {
		return nil, errors.New("report: SelfAuditConfig needs Collect, Audit and Entries")
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultSelfAuditEvery
	}
	if cfg.Every < time.Minute {
		return nil, errors.New("report: SelfAuditConfig.Every must be at least a minute")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.Actor.UserID == "" {
		cfg.Actor.UserID = "system:self-audit"
	}
	s := &SelfAudit{cfg: cfg}
	if s.cfg.Lock == nil {
		s.cfg.Lock = func(context.Context) (func(), error) { s.mu.Lock(); return s.mu.Unlock, nil }
	}
	return s, nil
}

// period names the period now falls in: its start, RFC 3339 in UTC.
func (s *SelfAudit) period(now time.Time) string {
	return time.Unix(0, 0).UTC().Add(now.Sub(time.Unix(0, 0)).Truncate(s.cfg.Every)).Format(time.RFC3339)
}

// RunDue runs the self-audit unless the current period already has a
// recorded result (from any replica sharing the trail), records the
// result, and calls OnRegression when a control regressed since the
// previous result. It reports whether it ran.
func (s *SelfAudit) RunDue(ctx context.Context) (bool, error) {
	unlock, err := s.cfg.Lock(ctx)
	if err != nil {
		return false, fmt.Errorf("report: self-audit lock: %w", err)
	}
	defer unlock()
	now := s.cfg.Clock.Now().UTC()
	period := s.period(now)
	results, err := s.Results(ctx)
	if err != nil {
		return false, err
	}
	var prev *SelfAuditResult
	for i := range results {
		if results[i].Period == period {
			return false, nil // another run (perhaps another replica) did this period
		}
		prev = &results[i]
	}
	ev, err := s.cfg.Collect(ctx, now)
	if err != nil {
		// The failure is recorded too: a review that could not run is a fact.
		e := s.event(now, period)
		e.Outcome, e.Reason = audit.OutcomeFailure, "collect_failed"
		if werr := s.cfg.Audit.Write(ctx, e); werr != nil {
			return false, errors.Join(err, werr)
		}
		return true, fmt.Errorf("report: self-audit: %w", err)
	}
	rep := Build(ev)
	cur := SelfAuditResult{Period: period, At: now}
	for _, row := range rep.Rows {
		switch row.Status {
		case Met:
			cur.Met = append(cur.Met, row.Control)
		case NotMet:
			cur.NotMet = append(cur.NotMet, row.Control)
		default:
			cur.NoEvidence = append(cur.NoEvidence, row.Control)
		}
	}
	e := s.event(now, period)
	e.Attrs["met"], e.Attrs["not_met"], e.Attrs["no_evidence"] = strings.Join(cur.Met, ","), strings.Join(cur.NotMet, ","), strings.Join(cur.NoEvidence, ",")
	if err := s.cfg.Audit.Write(ctx, e); err != nil {
		return false, fmt.Errorf("report: record the self-audit: %w", err)
	}
	if prev != nil && s.cfg.OnRegression != nil {
		var lost []string
		for _, c := range prev.Met {
			if !slices.Contains(cur.Met, c) {
				lost = append(lost, c)
			}
		}
		if len(lost) > 0 {
			s.cfg.OnRegression(ctx, Regression{Period: period, Controls: lost, Previous: prev.At})
		}
	}
	return true, nil
}

func (s *SelfAudit) event(now time.Time, period string) audit.Event {
	return audit.Event{Time: now, Action: SelfAuditAction, Outcome: audit.OutcomeSuccess, Actor: s.cfg.Actor,
		Target: audit.Target{RecordType: "compliance_report", RecordID: period}, Attrs: map[string]string{"period": period}}
}

// Results returns the recorded results in trail order, one per period
// (the first recorded for it; failed runs are left out).
func (s *SelfAudit) Results(ctx context.Context) ([]SelfAuditResult, error) {
	var out []SelfAuditResult
	seen := map[string]bool{}
	for e, err := range s.cfg.Entries(ctx) {
		if err != nil {
			return nil, fmt.Errorf("report: read earlier self-audits: %w", err)
		}
		if e.Record == nil || e.Record.Event.Action != SelfAuditAction || e.Record.Event.Outcome != audit.OutcomeSuccess {
			continue
		}
		ev := e.Record.Event
		p := ev.Attrs["period"]
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		split := func(k string) []string {
			if ev.Attrs[k] == "" {
				return nil
			}
			return strings.Split(ev.Attrs[k], ",")
		}
		out = append(out, SelfAuditResult{Period: p, At: ev.Time, Met: split("met"), NotMet: split("not_met"), NoEvidence: split("no_evidence")})
	}
	slices.SortStableFunc(out, func(a, b SelfAuditResult) int { return strings.Compare(a.Period, b.Period) })
	return out, nil
}

// Loop calls RunDue every poll (a minute when zero) until ctx ends; errors
// go to onErr (which may be nil).
func (s *SelfAudit) Loop(ctx context.Context, poll time.Duration, onErr func(error)) {
	if poll <= 0 {
		poll = time.Minute
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := s.RunDue(ctx); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AdvisoryLock returns a SelfAuditConfig.Lock for replicas on one
// PostgreSQL database: a session advisory lock named name, held on one
// connection of pool from the check of the period to the recorded result.
func AdvisoryLock(pool *pgxpool.Pool, name string) func(ctx context.Context) (func(), error) {
	h := fnv.New64a()
	h.Write([]byte("hipaakit/self-audit/" + name))
	key := int64(h.Sum64())
	return func(ctx context.Context) (func(), error) {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
			conn.Release()
			return nil, err
		}
		return func() {
			// A fresh context: the caller's may have ended, the lock must go.
			uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
				conn.Conn().Close(uctx) //nolint:errcheck // closing the session releases its locks
			}
			conn.Release()
		}, nil
	}
}
