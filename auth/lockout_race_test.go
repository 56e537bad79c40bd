package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/stretchr/testify/require"
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

// parallelLogins sends n wrong logins for name at once, each from its own
// client key unless clientKey is set, and returns how many were refused as
// invalid and as throttled, and the Retry-After values seen.
func parallelLogins(t *testing.T, f *fixture, name, clientKey string, n int) (invalid, throttled int, waits map[time.Duration]int) {
	t.Helper()
	var mu sync.Mutex
	waits = map[time.Duration]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			ck := clientKey
			if ck == "" {
				ck = fmt.Sprintf("198.51.%d.%d", i/250, i%250)
			}
			nm := name
			if nm == "" {
				nm = fmt.Sprintf("nobody-%d", i)
			}
			_, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: nm, Password: "wrong guess, clearly", ClientKey: ck})
			mu.Lock()
			defer mu.Unlock()
			var te *ThrottledError
			switch {
			case errors.Is(err, ErrInvalidCredentials):
				invalid++
			case errors.As(err, &te):
				throttled++
				waits[te.RetryAfter]++
			default:
				t.Errorf("unexpected answer: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	return invalid, throttled, waits
}

// Parallel wrong logins for a known and an unknown name get the same
// answers: both reserve their count before the password is checked.
func TestParallelLoginsKnownAndUnknownAlike(t *testing.T) {
	f := newFixture(t)
	f.create(t, "nina")
	free := f.a.cfg.Lockout.FreeFailures
	ki, kt, kw := parallelLogins(t, f, "nina", "", 15)
	ui, ut, uw := parallelLogins(t, f, "ghost", "", 15)
	if ki != free || kt != 15-free {
		t.Fatalf("known name: %d invalid, %d throttled; want %d and %d", ki, kt, free, 15-free)
	}
	if ui != ki || ut != kt {
		t.Fatalf("unknown name: %d invalid, %d throttled; known name: %d and %d", ui, ut, ki, kt)
	}
	if fmt.Sprint(kw) != fmt.Sprint(uw) {
		t.Fatalf("Retry-After differs: known %v, unknown %v", kw, uw)
	}
}

// One client key cannot pass its limit with parallel requests.
func TestParallelLoginsPerClientLimit(t *testing.T) {
	f := newFixture(t)
	free := f.a.cfg.Lockout.ClientFreeFailures
	invalid, throttled, _ := parallelLogins(t, f, "", "203.0.113.50", 60)
	if invalid != free || throttled != 60-free {
		t.Fatalf("60 parallel attempts from one client: %d checked, %d throttled; want %d and %d", invalid, throttled, free, 60-free)
	}
}

// countingUsers and countingAttempts count the durable writes of a login.
type countingUsers struct {
	UserStore
	mu      sync.Mutex
	updates int
}

func (c *countingUsers) Update(ctx context.Context, u *User) error {
	c.mu.Lock()
	c.updates++
	c.mu.Unlock()
	return c.UserStore.Update(ctx, u)
}

type countingAttempts struct {
	AttemptStore
	mu     sync.Mutex
	counts int
}

func (c *countingAttempts) Reserve(ctx context.Context, key string, now time.Time, forget time.Duration, wait func(int, time.Time) time.Duration) (time.Duration, error) {
	w, err := c.AttemptStore.Reserve(ctx, key, now, forget, wait)
	if err == nil && w == 0 {
		c.mu.Lock()
		c.counts++
		c.mu.Unlock()
	}
	return w, err
}

func (c *countingAttempts) Release(ctx context.Context, key string) error {
	c.mu.Lock()
	c.counts++
	c.mu.Unlock()
	return c.AttemptStore.Release(ctx, key)
}

// A failed login costs as many durable writes for an unknown name as for
// a known account, throttled or not.
func TestFailedLoginWritesKnownAndUnknownAlike(t *testing.T) {
	users := &countingUsers{UserStore: NewMemoryUserStore()}
	attempts := &countingAttempts{AttemptStore: NewMemoryAttemptStore(0)}
	f := newFixture(t, func(c *Config) { c.Users, c.Attempts = users, attempts })
	f.create(t, "nina")
	writes := func(name string) int {
		users.mu.Lock()
		attempts.mu.Lock()
		before := users.updates + attempts.counts
		users.mu.Unlock()
		attempts.mu.Unlock()
		for range 6 { // 3 checked, 3 throttled
			_, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: name, Password: "wrong guess, clearly", ClientKey: "192.0.2.1"})
			require.Error(t, err)
		}
		f.clk.Advance(2 * time.Hour) // forget the client key
		users.mu.Lock()
		defer users.mu.Unlock()
		attempts.mu.Lock()
		defer attempts.mu.Unlock()
		return users.updates + attempts.counts - before
	}
	known, unknown := writes("nina"), writes("ghost")
	require.Equal(t, known, unknown, "durable writes: known %d, unknown %d", known, unknown)
}

// By default no number of failures locks an account for good: the
// back-off grows to MaxDelay and the right password works after it.
func TestLockoutCannotBeWeaponised(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, "olga")
	for range 50 {
		f.clk.Advance(f.a.cfg.Lockout.MaxDelay)
		_, err := f.login(t, "olga", "wrong guess, clearly")
		require.ErrorIs(t, err, ErrInvalidCredentials)
	}
	stored, err := f.users.Get(t.Context(), u.ID)
	require.NoError(t, err)
	require.False(t, stored.Lockout.Locked())
	require.Equal(t, 50, stored.Lockout.Failures)
	_, err = f.login(t, "olga", goodPassword)
	var te *ThrottledError
	require.ErrorAs(t, err, &te)
	require.Equal(t, time.Hour, te.RetryAfter, "the back-off is capped at the default MaxDelay of 1h")
	f.clk.Advance(time.Hour)
	res, err := f.login(t, "olga", goodPassword)
	require.NoError(t, err)
	require.True(t, res.Authenticated)
	require.Equal(t, 0, f.log.count(audit.ActionLockout, "max_failures"))
}
