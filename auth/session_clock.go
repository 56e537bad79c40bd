package auth

import (
	"sync"
	"time"
)

// # Clock steps
//
// Session limits are measured on a time line that never runs backwards.
// The manager keeps a high-water mark of the times it has read from its
// clock: when the wall clock steps back, the manager's time stays at the
// mark and moves on from there at the rate of the clock (by the monotonic
// reading of the system clock, when it has one, so that no time is lost
// across the step). A forward step is followed at once. Each session's
// LastSeenAt, which the manager only ever moves forward, is the per-session
// high-water mark persisted in every store: a manager whose clock is behind
// a session's recorded activity measures that session from its LastSeenAt,
// so a backward step on another replica or across a restart cannot extend
// it either.

// monoClock is a time line that never runs backwards (see above).
type monoClock struct {
	mu  sync.Mutex
	raw time.Time // last reading of the clock, with its monotonic reading if any
	adj time.Time // the high-water mark: the time last returned
}

// at returns the time for the clock reading raw: the mark advanced by the
// time elapsed since the previous reading, never less than the mark.
func (c *monoClock) at(raw time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.adj.IsZero() {
		c.raw, c.adj = raw, raw.Round(0)
		return c.adj
	}
	d := raw.Round(0).Sub(c.raw.Round(0)) // wall time: follows forward steps
	if d < 0 {
		// The wall clock stepped back. The monotonic reading (when both
		// readings carry one) still tells how much time really passed.
		d = max(raw.Sub(c.raw), 0)
	}
	c.raw, c.adj = raw, c.adj.Add(d)
	return c.adj
}

// sessionNow returns the time against which s is measured: the manager's
// time, but never before the session's recorded activity.
func sessionNow(now time.Time, s *Session) time.Time {
	if now.Before(s.LastSeenAt) {
		return s.LastSeenAt
	}
	return now
}
