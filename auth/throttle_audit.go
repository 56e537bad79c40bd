package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// throttleAuditWindow is the window over which refusals of one throttle
// key (an account or a client key) are aggregated into audit events.
const throttleAuditWindow = time.Minute

// refusalLog aggregates the audit events of throttled refusals: per key
// and window, the first refusal is recorded at once (reason "throttled",
// attribute refused=1) and the further ones are counted and recorded as one
// event (reason "throttled_summary", attributes refused=<count> and
// window) when a later refusal or login of any key finds the window over.
// So a client that keeps being refused adds at most two such events per key
// and window. The table is bounded like the default AttemptStore.
type refusalLog struct {
	mu        sync.Mutex
	max       int
	entries   map[string]*refusalEntry
	lastSweep time.Time
}

type refusalEntry struct {
	start   time.Time
	count   int // refusals after the first in the window
	base    audit.Event
	flushed bool
}

func newRefusalLog(maxKeys int) *refusalLog {
	return &refusalLog{max: maxKeys, entries: map[string]*refusalEntry{}}
}

// note counts a refusal of key at now; it reports whether it is the first
// of its window (to be recorded at once) and returns the summaries of
// windows that are over.
func (l *refusalLog) note(key string, now time.Time, base audit.Event) (first bool, due []audit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	due = l.sweepLocked(now, false)
	e, ok := l.entries[key]
	if ok && now.Sub(e.start) >= throttleAuditWindow {
		if s, have := summary(e); have {
			due = append(due, s)
		}
		delete(l.entries, key)
		ok = false
	}
	if ok {
		e.count++
		return false, due
	}
	if len(l.entries) >= l.max {
		// Full: flush everything rather than drop a count.
		due = append(due, l.sweepLocked(now, true)...)
	}
	l.entries[key] = &refusalEntry{start: now, base: base}
	return true, due
}

// sweep returns the summaries of windows over at now (all when force),
// at most once per window unless forced.
func (l *refusalLog) sweep(now time.Time) []audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sweepLocked(now, false)
}

func (l *refusalLog) sweepLocked(now time.Time, force bool) []audit.Event {
	if !force && now.Sub(l.lastSweep) < throttleAuditWindow {
		return nil
	}
	l.lastSweep = now
	var due []audit.Event
	for k, e := range l.entries {
		if force || now.Sub(e.start) >= throttleAuditWindow {
			if s, ok := summary(e); ok {
				due = append(due, s)
			}
			delete(l.entries, k)
		}
	}
	return due
}

// summary is the event of e's refusals after the first, if any.
func summary(e *refusalEntry) (audit.Event, bool) {
	if e.count == 0 {
		return audit.Event{}, false
	}
	ev := e.base
	ev.Reason = "throttled_summary"
	ev.Time = time.Time{}
	ev.Attrs = map[string]string{"refused": fmt.Sprint(e.count), "window": throttleAuditWindow.String(),
		"since": e.start.UTC().Format(time.RFC3339)}
	return ev, true
}

// throttled refuses an attempt while key is in back-off: it audits the
// refusal (aggregated, see refusalLog) and returns a *ThrottledError.
func (a *authenticator) throttled(ctx context.Context, key string, base audit.Event, w time.Duration) error {
	base.Reason = "throttled"
	first, due := a.refusals.note(key, a.clock.Now(), base)
	if err := a.recordAll(ctx, due); err != nil {
		return err
	}
	if first {
		base.Attrs = map[string]string{"refused": "1"}
		if err := a.record(ctx, base); err != nil {
			return err
		}
	}
	return &ThrottledError{RetryAfter: w}
}

// flushRefusals records the summaries of aggregation windows that are over.
func (a *authenticator) flushRefusals(ctx context.Context) error {
	return a.recordAll(ctx, a.refusals.sweep(a.clock.Now()))
}

func (a *authenticator) recordAll(ctx context.Context, evs []audit.Event) error {
	for _, e := range evs {
		if err := a.record(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
