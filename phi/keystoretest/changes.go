package keystoretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// announceTimeout bounds how long RunAnnouncements waits for a watcher to
// go live and for an announcement to arrive.
const announceTimeout = 5 * time.Second

// recorder is a phi.KeyChangeWatcher that records what it is told.
type recorder struct {
	mu      sync.Mutex
	live    bool
	changed []string // refs; "*" for AllKeysChanged
	signal  chan struct{}
	stopped bool
	late    bool // called after stop returned
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) note(f func()) {
	r.mu.Lock()
	if r.stopped {
		r.late = true
	}
	f()
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) KeyChanged(ref string) { r.note(func() { r.changed = append(r.changed, ref) }) }
func (r *recorder) AllKeysChanged()       { r.note(func() { r.changed = append(r.changed, "*") }) }
func (r *recorder) Watching(live bool)    { r.note(func() { r.live = live }) }

// await waits until cond holds (checked under the recorder's lock).
func (r *recorder) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(announceTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.signal:
		case <-deadline.C:
			t.Fatalf("keystoretest: %s: not within %v", what, announceTimeout)
		}
	}
}

// announced reports whether ref (or everything) was announced since mark.
func (r *recorder) announced(ref string, mark int) bool {
	return slices.Contains(r.changed[mark:], ref) || slices.Contains(r.changed[mark:], "*")
}

// RunAnnouncements checks the phi.KeyChangeNotifier clause on two stores
// over the same, empty storage (as RunShared's open): a watcher of b goes
// live, an Update and a Shred made through a are announced to it (by
// reference, or as AllKeysChanged), and after stop returns it is not called
// again. Both stores must implement phi.KeyChangeNotifier.
func RunAnnouncements(t *testing.T, open func(t *testing.T) (a, b phi.KeyStore)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	a, b := open(t)
	n, ok := b.(phi.KeyChangeNotifier)
	if _, okA := a.(phi.KeyChangeNotifier); !ok || !okA {
		t.Fatal("keystoretest: the stores do not implement phi.KeyChangeNotifier")
	}
	r := newRecorder()
	stop := n.WatchKeyChanges(r)
	defer stop()
	r.await(t, "watcher live", func() bool { return r.live })

	k := Keyset("subject-1", 1)
	mustCreate(t, ctx, a, k)
	r.mu.Lock()
	mark := len(r.changed)
	r.mu.Unlock()
	if err := a.Update(ctx, Keyset(k.Ref, 2), 1); err != nil {
		t.Fatalf("A.Update: %v", err)
	}
	r.await(t, "Update announced", func() bool { return r.announced(k.Ref, mark) })
	r.mu.Lock()
	mark = len(r.changed)
	r.mu.Unlock()
	if _, err := a.Shred(ctx, k.Ref); err != nil {
		t.Fatalf("A.Shred: %v", err)
	}
	r.await(t, "Shred announced", func() bool { return r.announced(k.Ref, mark) })

	stop()
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	if _, err := a.Shred(ctx, "subject-2"); err != nil {
		t.Fatalf("A.Shred: %v", err)
	}
	mustCreate(t, ctx, a, Keyset("subject-3", 1))
	if err := a.Update(ctx, Keyset("subject-3", 2), 1); err != nil {
		t.Fatalf("A.Update: %v", err)
	}
	stop() // a second stop is harmless
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.late {
		t.Fatal("keystoretest: the watcher was called after stop returned")
	}
}

// ShredVisibility measures, over trials subjects, how long a shred made
// through a Vault on a takes to reach a Vault on b (two processes sharing
// the storage): from the call of Shred on the first Vault to the first Open
// the second refuses with phi.ErrShredded, the second Vault having the
// subject's keys cached and its announcements live. It checks that the
// second Vault then refuses Seal too, and returns the durations sorted.
// A trial that does not see the shred within 10 s fails the test.
func ShredVisibility(t testing.TB, a, b phi.KeyStore, trials int) []time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kek, err := localkek.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	va, err := phi.NewVault(phi.VaultConfig{Keys: a, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	defer va.Close()
	vb, err := phi.NewVault(phi.VaultConfig{Keys: b, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	defer vb.Close()
	out := make([]time.Duration, 0, trials)
	for i := range trials {
		bind := phi.Binding{Subject: fmt.Sprintf("visibility-%d", i), Field: "dob"}
		sealed, err := va.Seal(ctx, bind, []byte("1970-01-01"))
		if err != nil {
			t.Fatal(err)
		}
		waitLive(t, vb)
		if _, err := vb.Open(ctx, bind, sealed); err != nil { // now cached in b
			t.Fatalf("trial %d: the second Vault cannot open: %v", i, err)
		}
		start := time.Now()
		if _, err := va.Shred(ctx, bind.Subject); err != nil {
			t.Fatal(err)
		}
		for {
			_, err := vb.Open(ctx, bind, sealed)
			if errors.Is(err, phi.ErrShredded) {
				break
			}
			if err != nil {
				t.Fatalf("trial %d: Open after the shred: %v", i, err)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("trial %d: the second Vault still opens the subject 10 s after the shred", i)
			}
			time.Sleep(100 * time.Microsecond)
		}
		out = append(out, time.Since(start))
		if _, err := vb.Seal(ctx, bind, []byte("x")); !errors.Is(err, phi.ErrShredded) {
			t.Fatalf("trial %d: the second Vault seals for the shredded subject: %v", i, err)
		}
	}
	slices.Sort(out)
	return out
}

// waitLive waits until v receives its store's announcements.
func waitLive(t testing.TB, v *phi.Vault) {
	t.Helper()
	deadline := time.Now().Add(announceTimeout)
	for !v.KeyChangesLive() {
		if time.Now().After(deadline) {
			t.Fatalf("keystoretest: the Vault's announcements are not live after %v", announceTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Percentile returns the p-th percentile (0 < p <= 100, nearest rank) of
// sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
