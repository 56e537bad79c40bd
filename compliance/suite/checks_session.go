package suite

import (
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// checkAuthn: logout and password change end sessions, a TOTP code is
// accepted once, and repeated failures lock the account.
func (r *runner) checkAuthn(t T, control string) {
	role, rt, ok := r.anyRoleWithRoute()
	if !ok {
		t.Fatalf("%s: no role has a GET route to test sessions with", control)
	}
	t.Run("logout", func(t T) {
		s := r.h.Login(t, role)
		r.mustWork(t, control, rt, s, role)
		if res := r.do(t, r.tg.Logout, &s, nil); !ok2xx(res.status) {
			t.Fatalf("%s: logout returned %s", control, statusText(res.status))
		}
		if res := r.do(t, rt, &s, nil); !r.unauthenticated(res) {
			t.Errorf("%s: %s after logout returned %s, want 401", control, rt.name(), statusText(res.status))
		}
	})
	t.Run("password change", func(t T) {
		if r.remote != nil {
			t.Logf("%s: not checked against a live deployment: it would change a test user's password", control)
			return
		}
		s := r.h.Login(t, role)
		r.mustWork(t, control, rt, s, role)
		r.h.ChangePassword(t, s)
		if res := r.do(t, rt, &s, nil); !r.unauthenticated(res) {
			t.Errorf("%s: %s with a session from before a password change returned %s, want 401", control, rt.name(), statusText(res.status))
		}
	})
	t.Run("TOTP replay", func(t T) {
		secret, submit := r.h.TOTP(t)
		code, err := totp.GenerateCodeCustom(secret, r.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
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
	t.Run("lockout", func(t T) {
		c := r.h.NewCredentials(t)
		if !r.h.TryLogin(t, c) {
			t.Fatalf("%s: a fresh user cannot log in with the right password", control)
		}
		wrong := Credentials{Username: c.Username, Password: c.Password + "-wrong"}
		for i := 0; i < r.tg.LockoutThreshold; i++ {
			if r.h.TryLogin(t, wrong) {
				t.Fatalf("%s: a wrong password was accepted", control)
			}
		}
		if r.h.TryLogin(t, c) {
			t.Errorf("%s: after %d consecutive failures the right password still logs in; the account should be locked",
				control, r.tg.LockoutThreshold)
		}
	})
}

func (r *runner) mustWork(t T, control string, rt Route, s Session, role string) {
	t.Helper()
	if res := r.do(t, rt, &s, nil); !r.succeeded(res) {
		t.Fatalf("%s: %s as %s returned %s right after login", control, rt.name(), role, statusText(res.status))
	}
}

// checkAutoLogoff: a session idle past IdleTimeout, or older than
// AbsoluteTimeout however active, is refused.
func (r *runner) checkAutoLogoff(t T, control string) {
	role, rt, ok := r.anyRoleWithRoute()
	if !ok {
		t.Fatalf("%s: no role has a GET route to test sessions with", control)
	}
	if r.remote != nil && r.tg.AbsoluteTimeout+r.tg.IdleTimeout > r.remote.f.maxWait {
		t.Fatalf("%s: cannot be checked: waiting out idle_timeout %v and session_lifetime %v exceeds max_wait %v; check a deployment configured with short limits, or exclude the control",
			control, r.tg.IdleTimeout, r.tg.AbsoluteTimeout, r.remote.f.maxWait)
	}
	m := r.margin
	t.Run("idle", func(t T) {
		s := r.h.Login(t, role)
		r.mustWork(t, control, rt, s, role)
		r.advance(r.tg.IdleTimeout - m)
		r.mustWork(t, control, rt, s, role) // activity just before the limit keeps it alive
		r.advance(r.tg.IdleTimeout + m)
		if res := r.do(t, rt, &s, nil); !r.unauthenticated(res) {
			t.Errorf("%s: %s after %v idle returned %s, want 401", control, rt.name(), r.tg.IdleTimeout+m, statusText(res.status))
		}
	})
	t.Run("absolute", func(t T) {
		s := r.h.Login(t, role)
		step := r.tg.IdleTimeout / 2
		var elapsed time.Duration
		for elapsed+step < r.tg.AbsoluteTimeout {
			r.advance(step)
			elapsed += step
			if res := r.do(t, rt, &s, nil); !r.succeeded(res) {
				t.Fatalf("%s: an active session was refused after %v (%s), before the absolute limit %v",
					control, elapsed, statusText(res.status), r.tg.AbsoluteTimeout)
			}
		}
		r.advance(r.tg.AbsoluteTimeout - elapsed + m)
		if res := r.do(t, rt, &s, nil); !r.unauthenticated(res) {
			t.Errorf("%s: an active session was still accepted (%s) past the absolute limit %v", control, statusText(res.status), r.tg.AbsoluteTimeout)
		}
	})
}
