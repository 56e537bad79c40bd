package suite

import (
	"net/http"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpStep is RFC 6238's 30-second step, the one auth.Service uses.
const totpStep = 30 * time.Second

// hooks are the suite's callbacks over the network, from the check file.
func (rm *remote) hooks() Hooks {
	f := rm.f
	h := Hooks{Login: func(t T, role string) Session { return rm.loginRole(t, role, f.Users, true) }}
	if len(f.PasswordOnlyUsers) > 0 {
		h.PasswordLogin = func(t T, role string) Session { return rm.loginRole(t, role, f.PasswordOnlyUsers, false) }
	}
	for _, u := range f.Users {
		if u.TOTPSecret != "" {
			h.TOTP = rm.totpHook
			break
		}
	}
	if f.LockoutUser != nil {
		h.NewCredentials = func(t T) Credentials {
			rm.mu.Lock()
			defer rm.mu.Unlock()
			if rm.lockout {
				t.Fatalf("compliance: the check file has one lockout_user, and it was used already")
			}
			rm.lockout = true
			return Credentials{Username: f.LockoutUser.Name, Password: f.LockoutUser.Password}
		}
		// The right password counts as accepted when it starts a session
		// or asks for the second factor; the code is never sent, so the
		// lockout user needs no TOTP secret in the file.
		h.TryLogin = func(t T, c Credentials) bool {
			status, out, _, err := rm.login(c.Username, c.Password, "")
			if err != nil {
				t.Fatalf("compliance: login as the lockout user: %v", err)
			}
			return status == http.StatusOK && (out.Status == "authenticated" || out.Status == "second_factor_required")
		}
	}
	return h
}

// loginRole logs in a user of role ("" for any) from users, with a TOTP code when
// withCode, waiting for the next TOTP step only when every such user has
// used the current one.
func (rm *remote) loginRole(t T, role string, users []checkUser, withCode bool) Session {
	t.Helper()
	u, code := rm.pickUser(t, role, users, withCode)
	status, out, s, err := rm.login(u.Name, u.Password, code)
	if err != nil {
		t.Fatalf("compliance: login as %s (check file user %q): %v", role, u.Name, err)
	}
	if s == nil {
		t.Fatalf("compliance: login as %s (check file user %q) returned %s (%s); check the file's credentials",
			role, u.Name, statusText(status), out.Status)
	}
	return *s
}

func (rm *remote) pickUser(t T, role string, users []checkUser, withCode bool) (checkUser, string) {
	var of []checkUser
	for _, u := range users {
		if u.Role == role || role == "" {
			of = append(of, u)
		}
	}
	if len(of) == 0 {
		t.Fatalf("compliance: the check file has no user with role %q", role)
	}
	if !withCode {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		i := rm.next[role] % len(of)
		rm.next[role]++
		return of[i], ""
	}
	for {
		now := time.Now()
		step := now.Unix() / int64(totpStep/time.Second)
		rm.mu.Lock()
		for _, u := range of {
			if u.TOTPSecret != "" && rm.lastStep[u.Name] < step {
				rm.lastStep[u.Name] = step
				rm.mu.Unlock()
				return u, totpCode(t, u.TOTPSecret, now)
			}
		}
		rm.mu.Unlock()
		// Every user of role used this step: each code is accepted once.
		wait := time.Unix((step+1)*int64(totpStep/time.Second), 0).Sub(now)
		if (sleepClock{rm.ctx}).Advance(wait); rm.ctx.Err() != nil {
			t.Fatalf("compliance: waiting for the next TOTP step: %v", rm.ctx.Err())
		}
	}
}

func totpCode(t T, secret string, at time.Time) string {
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatalf("compliance: a check file TOTP secret does not generate codes")
	}
	return c
}

// totpHook hands the TOTP check a user whose current step is unused; each
// code submitted logs in (the session is logged out at the end).
func (rm *remote) totpHook(t T) (string, func(string) bool) {
	u, _ := rm.pickUser(t, "", rm.f.Users, true) // any role; reserves the step, waiting if every user used it
	return u.TOTPSecret, func(code string) bool {
		_, _, s, err := rm.login(u.Name, u.Password, code)
		if err != nil {
			t.Fatalf("compliance: TOTP login: %v", err)
		}
		return s != nil
	}
}
