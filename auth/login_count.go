package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// Counting of attempts and failures for Login, VerifySecondFactor and the
// other credential checks: reservation before checking, failure, release.

// reserveClient counts an attempt against the client key before its
// credentials are checked, or refuses it while the key is in back-off.
func (a *authenticator) reserveClient(ctx context.Context, clientKey string, now time.Time, base audit.Event) error {
	if clientKey == "" {
		return nil
	}
	w, err := a.attempts.Reserve(ctx, attemptKey(clientThrottleKey(clientKey)), now, a.cfg.Lockout.ForgetAfter, a.waitFunc(a.cfg.Lockout.ClientFreeFailures, now))
	if err != nil {
		return err
	}
	if w > 0 {
		return a.throttled(ctx, clientThrottleKey(clientKey), base, w)
	}
	return nil
}

// releaseClient gives back the client key's reservation of an attempt that
// succeeded or was not decided (err, returned unchanged, or nil).
func (a *authenticator) releaseClient(ctx context.Context, clientKey string, err error) error {
	if clientKey == "" {
		return err
	}
	if rerr := a.attempts.Release(ctx, attemptKey(clientThrottleKey(clientKey))); err == nil {
		err = rerr
	}
	return err
}

// waitFunc is the AttemptStore question "how long must an attempt at now
// still wait" with free failures passing.
func (a *authenticator) waitFunc(free int, now time.Time) func(int, time.Time) time.Duration {
	return func(n int, last time.Time) time.Duration { return a.cfg.Lockout.wait(n, free, last, now) }
}

// failure counts a failed attempt against the client key and, when userID
// is set, against the account (locking it at MaxFailures), audits it and
// returns ErrInvalidCredentials (or the audit error).
func (a *authenticator) failure(ctx context.Context, userID, clientKey string, base audit.Event, reason string) error {
	if err := a.accountFailure(ctx, userID, clientKey, base.Actor, base.Origin, base.Action, reason); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// accountFailure records one failed authentication; see failure.
func (a *authenticator) accountFailure(ctx context.Context, userID, clientKey string, actor audit.Actor, origin audit.Origin, action audit.Action, reason string) error {
	return a.countFailure(ctx, userID, clientKey, false, audit.Event{Action: action, Reason: reason, Actor: actor, Origin: origin})
}

// reservedFailure is failure for an attempt that reserve already counted.
func (a *authenticator) reservedFailure(ctx context.Context, userID, clientKey string, base audit.Event, reason string) error {
	if err := a.countFailure(ctx, userID, clientKey, true, audit.Event{Action: base.Action, Reason: reason, Actor: base.Actor, Origin: base.Origin}); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// reserve counts an attempt on userID's account before its credentials are
// checked, on the freshest record: concurrent attempts each take their own
// count, so a burst cannot pass the lockout or the back-off with a stale
// copy, and at most MaxFailures attempts are ever checked. When the count
// has reached MaxFailures it locks the account instead (audited). It
// returns the fresh user, or the back-off still to wait (nothing counted).
// Success resets the count (succeed), failure keeps it (reservedFailure),
// and release gives it back.
func (a *authenticator) reserve(ctx context.Context, userID string, now time.Time, base audit.Event) (*User, time.Duration, error) {
	var wait time.Duration
	lockedNow := false
	u, err := a.modify(ctx, userID, func(u *User) error {
		wait, lockedNow = 0, false
		if !u.Active() || u.Lockout.Locked() {
			return nil
		}
		if w := a.cfg.Lockout.wait(u.Lockout.Failures, a.cfg.Lockout.FreeFailures, u.Lockout.LastFailure, now); w > 0 {
			wait = w
			return errNoChange
		}
		perm, err := a.permanentLock(ctx, u.TenantID, u.Lockout.Failures)
		if err != nil {
			return err
		}
		if perm {
			u.Lockout.LockedAt = a.storeNow()
			lockedNow = true
			return nil
		}
		u.Lockout.Failures++
		u.Lockout.LastFailure = a.storeNow()
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil, wait, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if lockedNow {
		if err := a.record(ctx, audit.Event{Action: audit.ActionLockout, Outcome: audit.OutcomeSuccess,
			Reason: "max_failures", Actor: base.Actor, Origin: base.Origin,
			Attrs: map[string]string{"failures": fmt.Sprint(a.cfg.Lockout.MaxFailures)}}); err != nil {
			return nil, 0, err
		}
	}
	return u, 0, nil
}

// release gives back an attempt reserve counted that turned out not to be
// a failure (a right password that still needs its second factor).
func (a *authenticator) release(ctx context.Context, userID string) error {
	_, err := a.modify(ctx, userID, func(u *User) error {
		if u.Lockout.Locked() || u.Lockout.Failures == 0 {
			return errNoChange
		}
		u.Lockout.Failures--
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// permanentLock reports whether failures consecutive failures lock an
// account of tenantID for good: only when the tenant chose
// policy.Tenant.PermanentLockout and failures reached MaxFailures. Without
// it the back-off alone slows guessing (capped at MaxDelay), so that no one
// can lock another user out.
func (a *authenticator) permanentLock(ctx context.Context, tenantID string, failures int) (bool, error) {
	if failures < a.cfg.Lockout.MaxFailures {
		return false, nil
	}
	tp, err := a.tenantPolicy(ctx, tenantID)
	if err != nil {
		return false, err
	}
	return tp.PermanentLockout, nil
}

// errNoChange aborts a modify that has nothing to store.
var errNoChange = errors.New("auth: no change")

// countFailure records a failed attempt: it counts it (unless reserve did),
// locks the account when the count reaches MaxFailures, and audits both
// (ev, as a failure: its action, reason, actor, origin and attributes).
func (a *authenticator) countFailure(ctx context.Context, userID, clientKey string, reserved bool, ev audit.Event) error {
	actor, origin := ev.Actor, ev.Origin
	now := a.clock.Now()
	if clientKey != "" && !reserved {
		// Counted even in back-off: this attempt was already checked.
		if _, err := a.attempts.Reserve(ctx, attemptKey(clientThrottleKey(clientKey)), now, a.cfg.Lockout.ForgetAfter,
			func(int, time.Time) time.Duration { return 0 }); err != nil {
			return err
		}
	}
	lockedNow := false
	if userID != "" {
		// A reserved attempt was counted already: nothing is written
		// unless it locks the account, so that a known account's failure
		// costs one durable write, like an unknown name's.
		_, err := a.modify(ctx, userID, func(u *User) error {
			lockedNow = false
			changed := false
			if !reserved {
				u.Lockout.Failures++
				u.Lockout.LastFailure = a.storeNow()
				changed = true
			}
			perm, err := a.permanentLock(ctx, u.TenantID, u.Lockout.Failures)
			if err != nil {
				return err
			}
			if perm && !u.Lockout.Locked() {
				u.Lockout.LockedAt = a.storeNow()
				lockedNow = true
				changed = true
			}
			if !changed {
				return errNoChange
			}
			return nil
		})
		if err != nil && !errors.Is(err, errNoChange) {
			return err
		}
	}
	ev.Outcome = audit.OutcomeFailure
	if err := a.record(ctx, ev); err != nil {
		return err
	}
	if lockedNow {
		return a.record(ctx, audit.Event{Action: audit.ActionLockout, Outcome: audit.OutcomeSuccess,
			Reason: "max_failures", Actor: actor, Origin: origin,
			Attrs: map[string]string{"failures": fmt.Sprint(a.cfg.Lockout.MaxFailures)}})
	}
	return nil
}
