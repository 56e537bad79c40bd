package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Locks keep garbage collection from deleting a chunk that a running backup
// relies on. Both sides write their own lock first and read the other's
// second (the target is strongly consistent: a listed Put is visible), so at
// least one of them sees the other:
//
//   - a backup writes "locks/backup-<id>", then waits while a fresh
//     "locks/gc-<id>" exists, and only then lists the chunks it may reuse;
//   - garbage collection writes "locks/gc-<id>", then lists the locks and
//     deletes nothing when a fresh backup lock exists.
//
// Running operations rewrite their lock every quarter of the stale age; a
// lock older than that (left by a crash) is ignored and removed by the next
// garbage collection.

const (
	backupLockPrefix = lockPrefix + "backup-"
	gcLockPrefix     = lockPrefix + "gc-"
)

type lockBody struct {
	Time time.Time `json:"time"`
}

func marshalJSON(v any) ([]byte, error) { return json.Marshal(v) }

func newLockID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// heldLock is a lock this process holds and refreshes.
type heldLock struct {
	name   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *Repository) writeLock(ctx context.Context, name string) error {
	b, err := marshalJSON(lockBody{Time: r.s.clock.Now().UTC()})
	if err != nil {
		return err
	}
	return r.target.Put(ctx, name, b)
}

// takeLock writes the lock and refreshes it until release.
func (r *Repository) takeLock(ctx context.Context, name string) (*heldLock, error) {
	if err := r.writeLock(ctx, name); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &heldLock{name: name, cancel: cancel}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(r.s.staleAfter / 4)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				// A failed refresh is retried on the next tick; the lock only
				// turns stale after four missed refreshes.
				_ = r.writeLock(rctx, name)
			}
		}
	}()
	return l, nil
}

func (r *Repository) releaseLock(ctx context.Context, l *heldLock) error {
	if l == nil {
		return nil
	}
	l.cancel()
	l.wg.Wait()
	return r.target.Delete(context.WithoutCancel(ctx), l.name)
}

type lockInfo struct {
	name  string
	time  time.Time
	stale bool
}

// listLocks returns the locks under prefix. An unreadable lock counts as
// fresh (it may be half-visible on an exotic target); only age makes a lock
// stale, judged by its object modification time.
func (r *Repository) listLocks(ctx context.Context, prefix string) ([]lockInfo, error) {
	var out []lockInfo
	now := r.s.clock.Now()
	err := r.listUnder(ctx, prefix, func(o ObjectInfo, _ string) error {
		li := lockInfo{name: o.Name, time: o.ModTime}
		if b, err := readObject(ctx, r.target, o.Name, 4096); err == nil {
			var lb lockBody
			if json.Unmarshal(b, &lb) == nil && !lb.Time.IsZero() {
				li.time = lb.Time
			}
		} else if errors.Is(err, ErrNotFound) {
			return nil // released while listing
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		li.stale = now.Sub(li.time) > r.s.staleAfter
		out = append(out, li)
		return nil
	})
	return out, err
}

func anyFresh(ls []lockInfo) bool {
	for _, l := range ls {
		if !l.stale {
			return true
		}
	}
	return false
}

// lockForBackup takes a backup lock and waits until no garbage collection
// runs.
func (r *Repository) lockForBackup(ctx context.Context, id string) (*heldLock, error) {
	l, err := r.takeLock(ctx, backupLockPrefix+id)
	if err != nil {
		return nil, err
	}
	deadline := r.s.clock.Now().Add(r.s.lockWait)
	for {
		gcs, err := r.listLocks(ctx, gcLockPrefix)
		if err != nil {
			r.releaseLock(ctx, l)
			return nil, err
		}
		if !anyFresh(gcs) {
			return l, nil
		}
		if !r.s.clock.Now().Before(deadline) {
			r.releaseLock(ctx, l)
			return nil, fmt.Errorf("%w: garbage collection is running", ErrBusy)
		}
		select {
		case <-ctx.Done():
			r.releaseLock(ctx, l)
			return nil, ctx.Err()
		case <-time.After(r.s.pollEvery):
		}
	}
}
