package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrThrottled reports a login attempt refused because too many attempts
// failed recently for the account name or the client. The error is a
// *ThrottledError that says when to retry. Throttling applies to unknown
// account names exactly as to known ones, so it reveals nothing about which
// accounts exist.
var ErrThrottled = errors.New("auth: too many failed attempts")

// ThrottledError says how long to wait before the next attempt.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many failed attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// LockoutConfig configures throttling and lockout (NIST SP 800-63B rev 4,
// 3.2.2 rate limiting). Zero fields take the defaults given.
//
// Every password, TOTP or recovery-code attempt is counted before its
// credentials are checked, against the account (persisted in User.Lockout,
// or in the AttemptStore under the name when no usable account has it) and
// against the client key of the request (AttemptStore), so N parallel
// attempts count N. After FreeFailures consecutive failures each further
// attempt must wait BaseDelay, doubling with every failure up to MaxDelay.
// Only a tenant that chose policy.Tenant.PermanentLockout has an account's
// authenticators disabled after MaxFailures consecutive failures, until an
// operator unlocks it (Service.Unlock). A successful login resets the
// account's counter and gives back its client key's count.
type LockoutConfig struct {
	// MaxFailures locks the account of a tenant with
	// policy.Tenant.PermanentLockout (default 10, at most 100).
	MaxFailures int
	// FreeFailures is how many failures pass without delay (default 3).
	FreeFailures int
	// BaseDelay is the first back-off delay (default 1s).
	BaseDelay time.Duration
	// MaxDelay caps the back-off delay (default 1h).
	MaxDelay time.Duration
	// ClientFreeFailures is how many failures one client key may cause
	// across all accounts before its attempts are delayed (default 20).
	ClientFreeFailures int
	// ForgetAfter drops the AttemptStore count of a client key or unknown
	// account name that saw no attempt for this long (default 1h).
	ForgetAfter time.Duration
	// MaxTracked bounds how many client keys and unknown names the
	// default in-memory AttemptStore tracks (default 100000); when full, idle
	// entries are dropped first, then arbitrary ones.
	MaxTracked int
}

// maxLockoutFailures is NIST's ceiling on consecutive failed attempts.
const maxLockoutFailures = 100

func (c *LockoutConfig) setDefaults() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxFailures, 10)
	def(&c.FreeFailures, 3)
	def(&c.ClientFreeFailures, 20)
	def(&c.MaxTracked, 100_000)
	defD(&c.BaseDelay, time.Second)
	defD(&c.MaxDelay, time.Hour)
	defD(&c.ForgetAfter, time.Hour)
	switch {
	case c.MaxFailures < 1 || c.MaxFailures > maxLockoutFailures:
		return fmt.Errorf("auth: lockout: MaxFailures must be 1..%d", maxLockoutFailures)
	case c.FreeFailures < 0 || c.ClientFreeFailures < 0 || c.MaxTracked < 0:
		return errors.New("auth: lockout: negative limit")
	case c.BaseDelay < 0 || c.MaxDelay < c.BaseDelay || c.ForgetAfter < 0:
		return errors.New("auth: lockout: bad delays")
	}
	return nil
}

// backoff returns how long after the latest of failures consecutive failures
// the next attempt must wait.
func (c *LockoutConfig) backoff(failures, free int) time.Duration {
	over := failures - free
	if over < 0 {
		return 0
	}
	d := c.BaseDelay
	for i := 0; i < over && d < c.MaxDelay; i++ {
		d *= 2
	}
	return min(d, c.MaxDelay)
}

// wait returns how long an attempt at now must still wait after failures
// failures, the latest at last (0: go ahead).
func (c *LockoutConfig) wait(failures, free int, last, now time.Time) time.Duration {
	if failures == 0 {
		return 0
	}
	until := last.Add(c.backoff(failures, free))
	if now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

// latencyPad equalises the time of failed logins for unknown and known
// accounts. A known account's attempt is reserved with a durable store
// write (an fsync for the file store); an unknown name's is reserved on the
// AttemptStore, which may be cheaper (the in-memory one). Without padding,
// that difference would tell an attacker which names exist. The pad keeps a
// moving average of the user-store reservations and makes every cheaper
// reservation wait as long.
type latencyPad struct {
	ewma atomic.Int64 // nanoseconds
}

// maxPad bounds the padding a slow store can cause.
const maxPad = time.Second

// observe folds the duration of one failure write into the average.
func (p *latencyPad) observe(d time.Duration) {
	d = min(d, maxPad)
	for {
		old := p.ewma.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/8
		}
		if p.ewma.CompareAndSwap(old, next) {
			return
		}
	}
}

// pad waits about as long as a failure write takes, or until ctx ends.
func (p *latencyPad) pad(ctx context.Context) { p.padFrom(ctx, 0) }

// padFrom waits until spent plus the wait is about as long as a failure
// write takes, or until ctx ends.
func (p *latencyPad) padFrom(ctx context.Context, spent time.Duration) {
	d := time.Duration(p.ewma.Load()) - spent
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// clientThrottleKey is the throttle key of a client key; long keys are
// hashed so that hostile input cannot bloat the in-memory table.
func clientThrottleKey(k string) string {
	if len(k) > 64 {
		h := sha256.Sum256([]byte(k))
		k = string(h[:])
	}
	return "c\x00" + k
}
