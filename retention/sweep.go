package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
)

// ErrSweepRunning reports that another instance holds the sweep lock.
var ErrSweepRunning = errors.New("retention: another sweep is running")

// Subject is a subject with all of its records, as a Source lists it.
type Subject struct {
	ID      string
	Records []Record
}

// Source is the application's view of its records, which the Sweeper
// evaluates. retention/pgtables implements it over PostgreSQL tables.
type Source interface {
	// Subjects returns at most limit subjects whose ID is greater than after
	// (byte order), in ascending ID order, each with every one of its
	// records. Fewer than limit subjects means there are no more.
	Subjects(ctx context.Context, after string, limit int) ([]Subject, error)
}

// Disposer crypto-shreds a subject; *disposal.Shredder implements it.
type Disposer interface {
	Shred(ctx context.Context, subject, reason string, opts ...disposal.ShredOption) (disposal.Result, error)
}

// HoldLister returns the holds in force; *Registry implements it.
type HoldLister interface {
	Active(ctx context.Context) ([]Hold, error)
}

// SweepState coordinates sweeps: a lock so that one instance sweeps at a
// time, and a cursor so that a sweep interrupted by a crash resumes where it
// stopped. FileSweepState (a lock file and a cursor file) and
// retention/pgretention.SweepState (an advisory lock and a table) implement
// it.
type SweepState interface {
	// Lock takes the sweep lock without waiting; ErrSweepRunning when another
	// instance holds it. The returned function releases it.
	Lock(ctx context.Context) (unlock func() error, err error)
	// Cursor returns the ID of the last subject a sweep finished, or "" when
	// the last sweep completed (or none ran).
	Cursor(ctx context.Context) (string, error)
	// SetCursor durably records the cursor.
	SetCursor(ctx context.Context, after string) error
}

// SweeperConfig configures a Sweeper. Fields without a default are
// required.
type SweeperConfig struct {
	Source   Source
	Policies Policies
	Holds    HoldLister
	Disposer Disposer
	State    SweepState
	// Clock gives "now" for evaluation (default: the system clock).
	Clock clock.Clock
	// BatchSize is how many subjects are read, evaluated and disposed of
	// per step; the cursor advances after each (default 500).
	BatchSize int
	// Actor is the user ID recorded for the sweeper's disposals (default
	// "hipaakit:retention").
	Actor string
	// Workers is how many shreds of one batch run at once (default 4).
	// Concurrent shreds share the ledger's and the key store's group
	// commits; each subject is still shredded at most once.
	Workers int
}

// Sweeper applies the retention policies to a Source: it reads subjects in
// batches, evaluates them, and has the Disposer shred every subject whose
// records have all expired.
type Sweeper struct {
	cfg SweeperConfig
}

// NewSweeper checks cfg and returns a Sweeper.
func NewSweeper(cfg SweeperConfig) (*Sweeper, error) {
	if cfg.Source == nil || cfg.Holds == nil || cfg.Disposer == nil || cfg.State == nil {
		return nil, errors.New("retention: SweeperConfig needs Source, Holds, Disposer and State")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.Actor == "" {
		cfg.Actor = "hipaakit:retention"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	return &Sweeper{cfg: cfg}, nil
}

// SweepOption adjusts one Sweep.
type SweepOption interface{ apply(*sweepOpts) }

type sweepOpts struct {
	dryRun  bool
	observe func(SubjectDecision, error)
}

type sweepOptFunc func(*sweepOpts)

func (f sweepOptFunc) apply(o *sweepOpts) { f(o) }

// DryRun evaluates and reports without destroying anything, without taking
// the lock and without moving the cursor; it always covers every subject.
func DryRun() SweepOption { return sweepOptFunc(func(o *sweepOpts) { o.dryRun = true }) }

// Observe calls fn with every subject decision, and the disposal error (nil
// on success, on a kept subject and in a dry run).
func Observe(fn func(SubjectDecision, error)) SweepOption {
	return sweepOptFunc(func(o *sweepOpts) { o.observe = fn })
}

// KindCounts counts records of one kind in a sweep.
type KindCounts struct {
	Records  int // records evaluated
	Disposed int // records of subjects shredded (or, in a dry run, to shred)
	Held     int // records kept by a legal hold
	Failed   int // records of subjects whose shred failed
}

// Report summarises a sweep.
type Report struct {
	DryRun bool
	// Resumed is the cursor the sweep started after ("" for a full pass).
	Resumed  string
	Subjects int // subjects evaluated
	Shredded int // subjects shredded (to shred, in a dry run)
	Repeated int // subjects the ledger showed as already shredded
	Kept     int // subjects kept (including held ones)
	Held     int // subjects kept because of a legal hold
	Failed   int // subjects whose shred failed
	PerKind  map[string]KindCounts
	// Failures lists the first failures (at most 100): subject IDs and
	// errors, which never contain PHI.
	Failures []Failure
}

// Failure is one failed disposal.
type Failure struct {
	Subject string
	Err     error
}

const maxFailures = 100

// Sweep runs one pass over the Source, starting after the cursor a crashed
// sweep left behind. It continues past individual failed shreds (counted
// in the report) and stops at the first error reading the Source, the holds
// or the state, returning the report so far with the error. A completed
// pass resets the cursor, so subjects whose shred failed are evaluated and
// retried by the next pass.
func (s *Sweeper) Sweep(ctx context.Context, opts ...SweepOption) (Report, error) {
	var o sweepOpts
	for _, opt := range opts {
		opt.apply(&o)
	}
	rep := Report{DryRun: o.dryRun, PerKind: make(map[string]KindCounts)}
	if !o.dryRun {
		unlock, err := s.cfg.State.Lock(ctx)
		if err != nil {
			return rep, err
		}
		defer unlock() //nolint:errcheck // released by the OS or the server at worst
		if rep.Resumed, err = s.cfg.State.Cursor(ctx); err != nil {
			return rep, err
		}
	}
	holds, err := s.cfg.Holds.Active(ctx)
	if err != nil {
		return rep, fmt.Errorf("retention: cannot read legal holds, nothing disposed of: %w", err)
	}
	after := rep.Resumed
	for {
		page, err := s.cfg.Source.Subjects(ctx, after, s.cfg.BatchSize)
		if err != nil {
			return rep, fmt.Errorf("retention: source: %w", err)
		}
		if len(page) > s.cfg.BatchSize {
			return rep, errors.New("retention: source returned more subjects than asked for")
		}
		var records []Record
		for _, subj := range page {
			if subj.ID <= after {
				return rep, errors.New("retention: source returned subjects out of order")
			}
			after = subj.ID
			for _, r := range subj.Records {
				r.Subject = subj.ID
				records = append(records, r)
			}
		}
		plan := Evaluate(records, s.cfg.Policies, holds, s.cfg.Clock.Now())
		s.apply(ctx, plan, o, &rep)
		if !o.dryRun && len(page) > 0 {
			if err := s.cfg.State.SetCursor(ctx, after); err != nil {
				return rep, err
			}
		}
		if len(page) < s.cfg.BatchSize {
			break
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	if !o.dryRun {
		if err := s.cfg.State.SetCursor(ctx, ""); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// shredAll shreds the subjects of plan that it disposes of, at most
// cfg.Workers at a time, and returns each one's result by index.
func (s *Sweeper) shredAll(ctx context.Context, plan Plan) ([]disposal.Result, []error) {
	results := make([]disposal.Result, len(plan.Subjects))
	errs := make([]error, len(plan.Subjects))
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	for i, sd := range plan.Subjects {
		if sd.Action != Dispose {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = s.cfg.Disposer.Shred(ctx, sd.Subject, shredReason(sd.Kinds),
				disposal.By(audit.Actor{UserID: s.cfg.Actor}), disposal.Kinds(sd.Kinds...))
		}()
	}
	wg.Wait()
	return results, errs
}

// shredReason is the disposal reason the sweeper records.
func shredReason(kinds []string) string {
	r := "retention: all records expired (" + strings.Join(kinds, ",") + ")"
	if len(r) > disposal.MaxReasonLen {
		r = fmt.Sprintf("retention: all records expired (%d kinds)", len(kinds))
	}
	return r
}

// apply carries out one page's plan and counts it.
func (s *Sweeper) apply(ctx context.Context, plan Plan, o sweepOpts, rep *Report) {
	var results []disposal.Result
	var errs []error
	if !o.dryRun {
		results, errs = s.shredAll(ctx, plan)
	}
	outcome := make(map[string]string, len(plan.Subjects)) // subject -> "disposed" | "held" | "failed"
	for i, sd := range plan.Subjects {
		rep.Subjects++
		var err error
		switch {
		case sd.Action == Keep:
			rep.Kept++
			if sd.Reason == ReasonLegalHold {
				rep.Held++
			}
		case o.dryRun:
			rep.Shredded++
			outcome[sd.Subject] = "disposed"
		default:
			err = errs[i]
			switch {
			case err == nil:
				rep.Shredded++
				if results[i].Repeated {
					rep.Repeated++
				}
				outcome[sd.Subject] = "disposed"
			case errors.Is(err, disposal.ErrLegalHold):
				// A hold set after the holds were read: disposal refused.
				rep.Kept++
				rep.Held++
				outcome[sd.Subject] = "held"
			default:
				rep.Failed++
				outcome[sd.Subject] = "failed"
				if len(rep.Failures) < maxFailures {
					rep.Failures = append(rep.Failures, Failure{Subject: sd.Subject, Err: err})
				}
			}
		}
		if o.observe != nil {
			o.observe(sd, err)
		}
	}
	for _, d := range plan.Records {
		kc := rep.PerKind[d.Record.Kind]
		kc.Records++
		switch {
		case d.Reason == ReasonLegalHold || outcome[d.Record.Subject] == "held":
			kc.Held++
		case outcome[d.Record.Subject] == "disposed":
			kc.Disposed++
		case outcome[d.Record.Subject] == "failed":
			kc.Failed++
		}
		rep.PerKind[d.Record.Kind] = kc
	}
}
