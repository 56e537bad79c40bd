package authtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
)

// AttemptStoreFactory returns a new, empty store for one subtest.
type AttemptStoreFactory func(t *testing.T) auth.AttemptStore

func attemptKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// RunAttemptStore runs the AttemptStore conformance suite: parallel
// reservations count one each and stop at the limit the wait function
// sets, idle keys are forgotten, Release gives one back.
func RunAttemptStore(t *testing.T, newStore AttemptStoreFactory) {
	t.Helper()
	ctx := context.Background()
	limit := func(free int) func(int, time.Time) time.Duration {
		return func(n int, _ time.Time) time.Duration {
			if n >= free {
				return time.Second
			}
			return 0
		}
	}
	t.Run("ParallelReservationsCountEach", func(t *testing.T) {
		st := newStore(t)
		const n, free = 30, 7
		var mu sync.Mutex
		counted := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				w, err := st.Reserve(ctx, attemptKey("k"), userEpoch, time.Hour, limit(free))
				if err != nil {
					t.Error(err)
					return
				}
				if w == 0 {
					mu.Lock()
					counted++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if counted != free {
			t.Fatalf("%d parallel reservations with %d free: %d counted", n, free, counted)
		}
	})
	t.Run("ForgetAndRelease", func(t *testing.T) {
		st := newStore(t)
		k := attemptKey("k2")
		var seen int
		var seenLast time.Time
		peek := func(n int, last time.Time) time.Duration { seen, seenLast = n, last; return 0 }
		for range 3 {
			_, err := st.Reserve(ctx, k, userEpoch, time.Hour, peek)
			must(t, err)
		}
		_, err := st.Reserve(ctx, k, userEpoch.Add(time.Minute), time.Hour, peek)
		must(t, err)
		if seen != 3 || !seenLast.Equal(userEpoch) {
			t.Fatalf("count %d last %v; want 3 and %v", seen, seenLast, userEpoch)
		}
		must(t, st.Release(ctx, k))
		_, err = st.Reserve(ctx, k, userEpoch.Add(time.Minute), time.Hour, peek)
		must(t, err)
		if seen != 3 {
			t.Fatalf("after Release: count %d; want 3", seen)
		}
		_, err = st.Reserve(ctx, k, userEpoch.Add(3*time.Hour), time.Hour, peek)
		must(t, err)
		if seen != 0 || !seenLast.IsZero() {
			t.Fatalf("idle key not forgotten: count %d last %v", seen, seenLast)
		}
	})
}
