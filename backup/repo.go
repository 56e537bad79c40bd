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

// Config configures Init and Open. Audit is required; the zero value of
// every other field is the default documented on it.
type Config struct {
	// Audit records every backup, verification, restore, drill and prune,
	// with Actor as the actor (for the CLI, a system actor). Required: Open
	// and Init fail without it. An operation whose audit event cannot be
	// written fails with ErrAudit.
	Audit audit.Writer
	Actor audit.Actor
	// Clock times backups, locks and retention. nil means clock.System.
	Clock clock.Clock
	// Progress, when set, receives progress of long operations at most a few
	// times a second, and once more when the operation ends. It is called
	// from one goroutine at a time.
	Progress func(Progress)
	// ChunkSize is the average chunk size of content-defined chunking in a
	// new repository (Init only; a power of two between MinChunkSize and
	// MaxAverageChunkSize; chunks are between half of it and four times
	// it). 0 means DefaultChunkSize (1 MiB). New backups into a version-1
	// repository use DefaultChunkSize.
	ChunkSize int
	// Concurrency is how many chunks are processed at once (1 to 256).
	// Memory use is about 3×n×4×chunk size. 0 means DefaultConcurrency.
	Concurrency int
	// LegalHolds are the holds that Prune consults: a backup under hold is
	// never pruned. nil: no backup is under hold.
	LegalHolds LegalHolds
	// LockStaleAfter is when a lock counts as stale. 0 means
	// DefaultLockStaleAfter.
	LockStaleAfter time.Duration
	// LockWait is how long a backup waits for a running garbage collection
	// before it fails with ErrBusy. 0 means DefaultLockWait; a negative value
	// fails at once.
	LockWait time.Duration
}

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

// newSettings validates cfg and applies its defaults.
func newSettings(cfg Config) (settings, error) {
	s := settings{
		clock: clock.OrSystem(cfg.Clock), audit: cfg.Audit, actor: cfg.Actor, progress: cfg.Progress,
		chunkSize: cfg.ChunkSize, concurrency: cfg.Concurrency, holds: cfg.LegalHolds,
		staleAfter: cfg.LockStaleAfter, lockWait: cfg.LockWait, pollEvery: time.Second,
	}
	if s.audit == nil {
		return s, errors.New("backup: an audit writer is required (Config.Audit)")
	}
	if s.chunkSize == 0 {
		s.chunkSize = DefaultChunkSize
	} else if !validAverage(s.chunkSize) {
		return s, fmt.Errorf("backup: chunk size %d is not a power of two in [%d, %d]", s.chunkSize, MinChunkSize, MaxAverageChunkSize)
	}
	if s.concurrency == 0 {
		s.concurrency = DefaultConcurrency
	} else if s.concurrency < 1 || s.concurrency > 256 {
		return s, fmt.Errorf("backup: concurrency %d out of range [1, 256]", s.concurrency)
	}
	switch {
	case s.staleAfter < 0:
		return s, errors.New("backup: negative lock staleness")
	case s.staleAfter == 0:
		s.staleAfter = DefaultLockStaleAfter
	}
	switch {
	case s.lockWait < 0:
		s.lockWait = 0
	case s.lockWait == 0:
		s.lockWait = DefaultLockWait
	}
	return s, nil
}

// Init creates a repository in t: a new random repository key, wrapped by
// kek, stored in the "config" object. It fails with ErrExists when t already
// holds a repository.
func Init(ctx context.Context, t Target, kek phi.KEK, c Config) (*Repository, error) {
	s, err := newSettings(c)
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
func Open(ctx context.Context, t Target, kek phi.KEK, c Config) (*Repository, error) {
	s, err := newSettings(c)
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
	if cfg.Version == 1 {
		s.chunkSize = DefaultChunkSize
	}
	return &Repository{target: t, keys: keys, cfg: cfg, s: s}, nil
}

// ID returns the repository's ID.
func (r *Repository) ID() string { return r.cfg.Repo }

// ChunkSize returns the average chunk size of the repository's new
// backups.
func (r *Repository) ChunkSize() int { return r.s.chunkSize }

// FormatVersion returns the version of the repository's configuration: 1
// for a repository created before content-defined chunking (it holds
// backups of both versions once newer code has written to it), 2 after.
func (r *Repository) FormatVersion() int { return r.cfg.Version }

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
