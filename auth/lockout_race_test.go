package auth

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// A burst of concurrent guesses gets no more password checks than the
// lockout allows: each attempt reserves its count on the freshest record
// before the password is checked, so no attempt passes the lockout with a
// stale copy of the account.
func TestConcurrentGuessesCannotPassLockout(t *testing.T) {
	f := newFixture(t)
	f.create(t, "nina")
	const burst = 60
	var wg sync.WaitGroup
	okLogins := make(chan struct{}, burst+1)
	for i := range burst + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := fmt.Sprintf("wrong guess number %d!", i)
			if i == burst {
				pw = goodPassword // the right one, somewhere in the burst
			}
			res, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: "nina", Password: pw,
				ClientKey: fmt.Sprintf("10.0.%d.%d", i/250, i%250)})
			if err == nil && res.Authenticated {
				okLogins <- struct{}{}
				return
			}
			var te *ThrottledError
			if err != nil && !errors.Is(err, ErrInvalidCredentials) && !errors.As(err, &te) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Failures audited after the success: only those can still be counted
	// (a success resets the counter; attempts reserved after it count).
	checked, after, seenOK := 0, 0, false
	f.log.mu.Lock()
	for _, e := range f.log.events {
		if e.Action == audit.ActionLoginFailed && e.Reason == "wrong_password" {
			checked++
			if len(okLogins) == 1 && seenOK {
				after++
			}
		}
		if e.Action == audit.ActionLogin && e.Outcome == audit.OutcomeSuccess {
			seenOK = true
		}
	}
	f.log.mu.Unlock()
	if max := f.a.cfg.Lockout.MaxFailures; checked > max {
		t.Fatalf("%d wrong passwords were checked in one burst; the lockout allows %d", checked, max)
	}
	u, err := f.users.GetByName(t.Context(), "clinic", "nina")
	if err != nil {
		t.Fatal(err)
	}
	if len(okLogins) == 1 && u.Lockout.Failures > after {
		t.Fatalf("a successful login left %d failures counted; only %d failed after it", u.Lockout.Failures, after)
	}
}
