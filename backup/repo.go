package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
)

// Repository is an encrypted backup repository in a Target. It is safe for
// concurrent use; several processes may use one repository at once (see
// Prune for how garbage collection stays safe alongside running backups).
type Repository struct {
	target Target
	keys   *repoKeys
	cfg    *repoConfig
	s      settings
}

// Option configures Init and Open.
type Option interface{ apply(*settings) error }

type optFunc func(*settings) error

func (f optFunc) apply(s *settings) error { return f(s) }

type settings struct {
	clock       clock.Clock
	audit       audit.Writer
	actor       audit.Actor
	progress    func(Progress)
	chunkSize   int
	concurrency int
	holds       LegalHolds
	staleAfter  time.Duration
	lockWait    time.Duration
	pollEvery   time.Duration
}

// Defaults.
const (
	// DefaultConcurrency is the number of chunks read, encrypted and written
	// at once.
	DefaultConcurrency = 4
	// DefaultLockStaleAfter is the age after which a lock left by a crashed
	// backup or garbage collection is ignored. Running operations refresh
	// their lock every quarter of it.
	DefaultLockStaleAfter = time.Hour
	// DefaultLockWait is how long a backup waits for a running garbage
	// collection before it fails with ErrBusy.
	DefaultLockWait = 30 * time.Minute
)

// WithAudit sets the audit.Writer that records every backup, verification,
// restore, drill and prune, and the actor recorded (for the CLI, a system
// actor). It is required: Open and Init fail without it. An operation whose
// audit event cannot be written fails with ErrAudit.
func WithAudit(w audit.Writer, actor audit.Actor) Option {
	return optFunc(func(s *settings) error {
		if w == nil {
			return errors.New("backup: nil audit writer")
		}
		s.audit, s.actor = w, actor
		return nil
	})
}

// WithClock sets the clock (default: the system clock).
func WithClock(c clock.Clock) Option {
	return optFunc(func(s *settings) error { s.clock = clock.OrSystem(c); return nil })
}

// WithProgress sets a callback that receives progress of long operations at
// most a few times a second, and once more when the operation ends. It is
// called from one goroutine at a time.
func WithProgress(fn func(Progress)) Option {
	return optFunc(func(s *settings) error { s.progress = fn; return nil })
}

// WithChunkSize sets the fixed chunk size of a new repository (Init only;
// default DefaultChunkSize, between MinChunkSize and MaxChunkSize).
func WithChunkSize(n int) Option {
	return optFunc(func(s *settings) error {
		if n < MinChunkSize || n > MaxChunkSize {
			return fmt.Errorf("backup: chunk size %d out of range [%d, %d]", n, MinChunkSize, MaxChunkSize)
		}
		s.chunkSize = n
		return nil
	})
}

// WithConcurrency sets how many chunks are processed at once (default
// DefaultConcurrency). Memory use is about 2×n×chunk size.
func WithConcurrency(n int) Option {
	return optFunc(func(s *settings) error {
		if n < 1 || n > 256 {
			return fmt.Errorf("backup: concurrency %d out of range [1, 256]", n)
		}
		s.concurrency = n
		return nil
	})
}

// WithLegalHolds sets the legal holds that Prune consults: a backup under
// hold is never pruned.
func WithLegalHolds(h LegalHolds) Option {
	return optFunc(func(s *settings) error { s.holds = h; return nil })
}

// WithLockTiming sets when a lock counts as stale (default
// DefaultLockStaleAfter) and how long a backup waits for a running garbage
// collection (default DefaultLockWait).
func WithLockTiming(staleAfter, wait time.Duration) Option {
	return optFunc(func(s *settings) error {
		if staleAfter <= 0 || wait < 0 {
			return errors.New("backup: invalid lock timing")
		}
		s.staleAfter, s.lockWait = staleAfter, wait
		return nil
	})
}

func newSettings(opts []Option) (settings, error) {
	s := settings{
		clock: clock.System, chunkSize: DefaultChunkSize, concurrency: DefaultConcurrency,
		staleAfter: DefaultLockStaleAfter, lockWait: DefaultLockWait, pollEvery: time.Second,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&s); err != nil {
			return s, err
		}
	}
	if s.audit == nil {
		return s, errors.New("backup: an audit writer is required (WithAudit)")
	}
	return s, nil
}

// Init creates a repository in t: a new random repository key, wrapped by
// kek, stored in the "config" object. It fails with ErrExists when t already
// holds a repository.
func Init(ctx context.Context, t Target, kek phi.KEK, opts ...Option) (*Repository, error) {
	s, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	if kek == nil {
		return nil, errors.New("backup: nil KEK")
	}
	if _, err := t.Stat(ctx, configName); err == nil {
		return nil, objErr("init", configName, ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	cfg, keys, err := newConfig(ctx, kek, s.chunkSize, s.clock.Now())
	if err != nil {
		return nil, err
	}
	b, err := marshalJSON(cfg)
	if err != nil {
		return nil, err
	}
	if c, ok := t.(Creator); ok {
		err = c.Create(ctx, configName, b)
	} else {
		err = t.Put(ctx, configName, b)
	}
	if err != nil {
		return nil, err
	}
	return &Repository{target: t, keys: keys, cfg: cfg, s: s}, nil
}

// Open opens the repository in t with kek. A KEK that does not unwrap the
// repository key fails with ErrWrongKey.
func Open(ctx context.Context, t Target, kek phi.KEK, opts ...Option) (*Repository, error) {
	s, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	if kek == nil {
		return nil, errors.New("backup: nil KEK")
	}
	b, err := readObject(ctx, t, configName, 1<<20)
	if err != nil {
		return nil, err
	}
	cfg, id, err := parseConfig(b)
	if err != nil {
		return nil, objErr("parse", configName, err)
	}
	keys, err := cfg.unlock(ctx, id, kek)
	if err != nil {
		return nil, err
	}
	s.chunkSize = cfg.ChunkSize
	return &Repository{target: t, keys: keys, cfg: cfg, s: s}, nil
}

// ID returns the repository's ID.
func (r *Repository) ID() string { return r.cfg.Repo }

// ChunkSize returns the repository's fixed chunk size.
func (r *Repository) ChunkSize() int { return r.cfg.ChunkSize }

// Target returns the repository's target.
func (r *Repository) Target() Target { return r.target }

// readObject reads a whole object of at most limit bytes.
func readObject(ctx context.Context, t Target, name string, limit int64) ([]byte, error) {
	rc, err := t.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rc, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, objErr("read", name, err)
	}
	if n > limit {
		return nil, objErr("read", name, corruptf("object too large"))
	}
	return buf.Bytes(), nil
}

// writeAudit records an event for op, failing with ErrAudit when the writer
// fails.
func (r *Repository) writeAudit(ctx context.Context, action audit.Action, ok bool, reason, id string, attrs map[string]string) error {
	e := audit.Event{
		Time:    r.s.clock.Now().UTC(),
		Action:  action,
		Outcome: audit.OutcomeSuccess,
		Reason:  reason,
		Actor:   r.s.actor,
		Origin:  audit.Origin{Channel: audit.ChannelSystem},
		Target:  audit.Target{RecordType: "backup", RecordID: id},
		Attrs:   attrs,
	}
	if !ok {
		e.Outcome = audit.OutcomeFailure
	}
	if e.Attrs == nil {
		e.Attrs = map[string]string{}
	}
	e.Attrs["repository"] = r.cfg.Repo
	if err := r.s.audit.Write(ctx, e); err != nil {
		return fmt.Errorf("%w: %v", ErrAudit, err)
	}
	return nil
}

// KEKID returns the ID of the KEK that wraps the repository key.
func (r *Repository) KEKID() string { return r.cfg.KEKID }

// Rewrap re-wraps the repository key under newKEK (after a KEK rotation or a
// migration to another KEK): it unwraps it with oldKEK and replaces the
// "config" object atomically. Chunks and manifests are untouched; from then
// on only newKEK opens the repository. A repository already wrapped by
// newKEK is left as it is, so a migration that was interrupted is finished
// by running it again. The rewrap is audited (action key_rotated, record
// type "backup", reason "rewrap", the old and new KEK IDs); a failure to
// unwrap or to store is audited as a failure.
func (r *Repository) Rewrap(ctx context.Context, oldKEK, newKEK phi.KEK) error {
	if oldKEK == nil || newKEK == nil || newKEK.ID() == "" {
		return errors.New("backup: Rewrap needs the old and the new KEK")
	}
	if r.cfg.KEKID == newKEK.ID() {
		return nil
	}
	attrs := map[string]string{"old_kek": r.cfg.KEKID, "new_kek": newKEK.ID()}
	err := r.rewrap(ctx, oldKEK, newKEK)
	if aerr := r.writeAudit(ctx, audit.ActionKeyRotated, err == nil, "rewrap", r.cfg.Repo, attrs); err == nil {
		err = aerr
	}
	return err
}

func (r *Repository) rewrap(ctx context.Context, oldKEK, newKEK phi.KEK) error {
	master, err := oldKEK.Unwrap(ctx, r.cfg.WrappedKey, wrapAD(r.cfg.Repo))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return objErr("rewrap", configName, fmt.Errorf("%w: the old KEK does not unwrap the repository key", ErrWrongKey))
	}
	defer clear(master)
	wrapped, err := newKEK.Wrap(ctx, master, wrapAD(r.cfg.Repo))
	if err != nil {
		return fmt.Errorf("backup: wrap repository key: %w", err)
	}
	cfg := *r.cfg
	cfg.WrappedKey, cfg.KEKID = wrapped, newKEK.ID()
	b, err := marshalJSON(&cfg)
	if err != nil {
		return err
	}
	if err := r.target.Put(ctx, configName, b); err != nil {
		return err
	}
	r.cfg = &cfg
	return nil
}
