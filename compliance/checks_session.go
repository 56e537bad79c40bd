package compliance

import (
	"net/http"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// checkAuthn: logout and password change end sessions, a TOTP code is
// accepted once, and repeated failures lock the account.
func (r *runner) checkAuthn(t *testing.T, control string) {
	role, rt, ok := r.anyRoleWithRoute()
	if !ok {
		t.Fatalf("%s: no role has a GET route to test sessions with", control)
	}
	t.Run("logout", func(t *testing.T) {
		s := r.tg.Login(t, role)
		r.mustWork(t, control, rt, s, role)
		if res := r.do(t, r.tg.Logout, &s, nil); !ok2xx(res.status) {
			t.Fatalf("%s: logout returned %s", control, statusText(res.status))
		}
		if res := r.do(t, rt, &s, nil); res.status != http.StatusUnauthorized {
			t.Errorf("%s: %s after logout returned %s, want 401", control, rt.name(), statusText(res.status))
		}
	})
	t.Run("password change", func(t *testing.T) {
		s := r.tg.Login(t, role)
		r.mustWork(t, control, rt, s, role)
		r.tg.ChangePassword(t, s)
		if res := r.do(t, rt, &s, nil); res.status != http.StatusUnauthorized {
			t.Errorf("%s: %s with a session from before a password change returned %s, want 401", control, rt.name(), statusText(res.status))
		}
	})
	t.Run("TOTP replay", func(t *testing.T) {
		secret, submit := r.tg.TOTP(t)
		now := time.Now()
		if r.tg.Clock != nil {
			now = r.tg.Clock.Now()
		}
		code, err := totp.GenerateCodeCustom(secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatalf("%s: the TOTP secret does not generate codes: %v", control, err)
		}
		if !submit(code) {
			t.Fatalf("%s: a fresh, valid TOTP code was refused", control)
		}
		if submit(code) {
			t.Errorf("%s: the same TOTP code was accepted twice (replay)", control)
		}
	})
	t.Run("lockout", func(t *testing.T) {
		c := r.tg.NewCredentials(t)
		if !r.tg.TryLogin(t, c) {
			t.Fatalf("%s: a fresh user cannot log in with the right password", control)
		}
		wrong := Credentials{Username: c.Username, Password: c.Password + "-wrong"}
		for i := 0; i < r.tg.LockoutThreshold; i++ {
			if r.tg.TryLogin(t, wrong) {
				t.Fatalf("%s: a wrong password was accepted", control)
			}
		}
		if r.tg.TryLogin(t, c) {
			t.Errorf("%s: after %d consecutive failures the right password still logs in; the account should be locked",
				control, r.tg.LockoutThreshold)
		}
	})
}

func (r *runner) mustWork(t *testing.T, control string, rt Route, s Session, role string) {
	t.Helper()
	if res := r.do(t, rt, &s, nil); !ok2xx(res.status) {
		t.Fatalf("%s: %s as %s returned %s right after login", control, rt.name(), role, statusText(res.status))
	}
}

// checkAutoLogoff: a session idle past IdleTimeout, or older than
// AbsoluteTimeout however active, is refused.
func (r *runner) checkAutoLogoff(t *testing.T, control string) {
	role, rt, ok := r.anyRoleWithRoute()
	if !ok {
		t.Fatalf("%s: no role has a GET route to test sessions with", control)
	}
	t.Run("idle", func(t *testing.T) {
		s := r.tg.Login(t, role)
		r.mustWork(t, control, rt, s, role)
		r.advance(r.tg.IdleTimeout - time.Second)
		r.mustWork(t, control, rt, s, role) // activity just before the limit keeps it alive
		r.advance(r.tg.IdleTimeout + time.Second)
		if res := r.do(t, rt, &s, nil); res.status != http.StatusUnauthorized {
			t.Errorf("%s: %s after %v idle returned %s, want 401", control, rt.name(), r.tg.IdleTimeout+time.Second, statusText(res.status))
		}
	})
	t.Run("absolute", func(t *testing.T) {
		s := r.tg.Login(t, role)
		step := r.tg.IdleTimeout / 2
		var elapsed time.Duration
		for elapsed+step < r.tg.AbsoluteTimeout {
			r.advance(step)
			elapsed += step
			if res := r.do(t, rt, &s, nil); !ok2xx(res.status) {
				t.Fatalf("%s: an active session was refused after %v (%s), before the absolute limit %v",
					control, elapsed, statusText(res.status), r.tg.AbsoluteTimeout)
			}
		}
		r.advance(r.tg.AbsoluteTimeout - elapsed + time.Second)
		if res := r.do(t, rt, &s, nil); res.status != http.StatusUnauthorized {
			t.Errorf("%s: an active session was still accepted (%s) past the absolute limit %v", control, statusText(res.status), r.tg.AbsoluteTimeout)
		}
	})
}
