package authtest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/clock"
)

// SlowUserStore wraps a UserStore and delays every call by a random 1-5 ms,
// to widen the races between concurrent requests in tests.
type SlowUserStore struct {
	auth.UserStore
}

func (s SlowUserStore) delay(ctx context.Context) error {
	t := time.NewTimer(time.Millisecond + rand.N(4*time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Get delays and calls the wrapped store.
func (s SlowUserStore) Get(ctx context.Context, id string) (*auth.User, error) {
	if err := s.delay(ctx); err != nil {
		return nil, err
	}
	return s.UserStore.Get(ctx, id)
}

// GetByName delays and calls the wrapped store.
func (s SlowUserStore) GetByName(ctx context.Context, tenantID, name string) (*auth.User, error) {
	if err := s.delay(ctx); err != nil {
		return nil, err
	}
	return s.UserStore.GetByName(ctx, tenantID, name)
}

// Update delays and calls the wrapped store.
func (s SlowUserStore) Update(ctx context.Context, u *auth.User) error {
	if err := s.delay(ctx); err != nil {
		return err
	}
	return s.UserStore.Update(ctx, u)
}

// RunTOTPRace checks that N concurrent second-factor submissions of one
// valid TOTP code on one challenge give exactly one success and N-1 refusals
// (ErrInvalidCredentials or ErrThrottled), never an operational error,
// on the store newStore returns, plain and wrapped in SlowUserStore, served
// by one auth.Service and by two replicas sharing the store.
func RunTOTPRace(t *testing.T, newStore UserStoreFactory) {
	t.Helper()
	for _, slow := range []bool{false, true} {
		for _, replicas := range []int{1, 2} {
			name := map[bool]string{false: "Plain", true: "Slow"}[slow]
			if replicas > 1 {
				name += "Replicas"
			}
			t.Run(name, func(t *testing.T) {
				st := newStore(t)
				if slow {
					st = SlowUserStore{st}
				}
				totpRace(t, st, replicas)
			})
		}
	}
}

func totpRace(t *testing.T, st auth.UserStore, replicas int) {
	ctx := context.Background()
	clk := clock.NewFake(userEpoch)
	sealer, err := auth.NewKeySealer(make([]byte, 32))
	must(t, err)
	var as []*auth.Service
	for range replicas {
		a, err := auth.New(auth.Config{Users: st, Audit: audit.Discard{}, Sessions: memstore.NewSessionStore(),
			Emergencies: memstore.NewEmergencyLog(), Sealer: sealer, Argon2: auth.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, Clock: clk,
			// No back-off within the burst: every attempt reaches the TOTP check.
			Lockout: auth.LockoutConfig{MaxFailures: 100, FreeFailures: 100}})
		must(t, err)
		as = append(as, a)
	}
	const pw = "saffron-tundra-beacon-8"
	u, err := as[0].CreateUser(ctx, auth.NewUser{TenantID: "clinic", Name: "pat", Password: pw}, audit.Actor{}, audit.Origin{})
	must(t, err)
	e, err := as[0].EnrollTOTP(ctx, u.ID, audit.Origin{})
	must(t, err)
	code := func() string {
		c, err := totp.GenerateCodeCustom(e.Secret(), clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix})
		must(t, err)
		return c
	}
	_, err = as[0].ConfirmTOTP(ctx, u.ID, code(), "", audit.Origin{})
	must(t, err)
	for round := range 2 {
		clk.Advance(time.Hour) // past any back-off of the previous round
		c := code()
		res, err := as[0].Login(ctx, auth.LoginRequest{TenantID: "clinic", Name: "pat", Password: pw})
		must(t, err)
		if !res.SecondFactorRequired {
			t.Fatal("the password step did not ask for the second factor")
		}
		const n = 20
		var mu sync.Mutex
		ok, refused := 0, 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, err := as[i%len(as)].VerifySecondFactor(ctx, auth.SecondFactorRequest{Challenge: res.Challenge, TOTPCode: c})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrThrottled):
					refused++
				default:
					t.Errorf("round %d: operational error for the legitimate user: %v", round, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok != 1 || refused != n-1 {
			t.Fatalf("round %d: one code submitted %d times: %d accepted, %d refused; want 1 and %d", round, n, ok, refused, n-1)
		}
	}
}
