package phi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
)

var ctx = context.Background()

func mustSeal(t testing.TB, v *phi.Vault, b phi.Binding, pt string) phi.Sealed {
	t.Helper()
	s, err := v.Seal(ctx, b, []byte(pt))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpenRoundTrip(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "patient-1", Field: "dob", Tenant: "clinic-a", Record: "rec-9"}
	for _, pt := range []string{"", "1970-01-01", string(make([]byte, 70000))} {
		s := mustSeal(t, e.vault, b, pt)
		if h, err := s.Header(); err != nil || h.Version != 1 {
			t.Fatalf("header: %+v %v", h, err)
		}
		got, err := e.vault.Open(ctx, b, s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Reveal()) != pt {
			t.Fatalf("round trip changed %d-byte plaintext", len(pt))
		}
	}
	// Two seals of one value differ (fresh nonce).
	if string(mustSeal(t, e.vault, b, "x")) == string(mustSeal(t, e.vault, b, "x")) {
		t.Fatal("two seals are identical")
	}
}

func TestBindingIsAuthenticated(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "p1", Field: "ssn", Tenant: "t1", Record: "r1"}
	s := mustSeal(t, e.vault, b, "123-45-6789")
	mustSeal(t, e.vault, phi.Binding{Subject: "p2", Field: "ssn"}, "987-65-4321") // p2 has keys too
	for name, wrong := range map[string]phi.Binding{
		"subject": {Subject: "p2", Field: "ssn", Tenant: "t1", Record: "r1"},
		"field":   {Subject: "p1", Field: "dob", Tenant: "t1", Record: "r1"},
		"tenant":  {Subject: "p1", Field: "ssn", Tenant: "t2", Record: "r1"},
		"record":  {Subject: "p1", Field: "ssn", Tenant: "t1", Record: "r2"},
		"no-opt":  {Subject: "p1", Field: "ssn"},
		// The length prefixes keep boundaries: moving bytes between parts fails.
		"shifted": {Subject: "p1", Field: "ssnt", Tenant: "1", Record: "r1"},
	} {
		if _, err := e.vault.Open(ctx, wrong, s); !errors.Is(err, phi.ErrTampered) {
			t.Errorf("%s: got %v, want ErrTampered", name, err)
		}
	}
	if _, err := e.vault.Open(ctx, phi.Binding{Subject: "p3", Field: "ssn", Tenant: "t1", Record: "r1"}, s); !errors.Is(err, phi.ErrKeyNotFound) {
		t.Errorf("subject without keys: got %v, want ErrKeyNotFound", err)
	}
}

func TestInvalidBinding(t *testing.T) {
	e := newEnv(t)
	for _, b := range []phi.Binding{
		{Field: "f"},
		{Subject: "s"},
		{Subject: "_hipaakit.blind-index", Field: "f"},
		{Subject: "../etc", Field: "f"},
		{Subject: "s", Field: "has space"},
		{Subject: "s", Field: "f", Record: string(make([]byte, 2000))},
	} {
		if _, err := e.vault.Seal(ctx, b, []byte("x")); !errors.Is(err, phi.ErrInvalidBinding) {
			t.Errorf("Seal(%q,%q): got %v", b.Subject, b.Field, err)
		}
		if _, err := e.vault.Open(ctx, b, phi.Sealed{1}); !errors.Is(err, phi.ErrInvalidBinding) {
			t.Errorf("Open(%q,%q): got %v", b.Subject, b.Field, err)
		}
	}
	if _, err := e.vault.Shred(ctx, "_hipaakit.blind-index"); !errors.Is(err, phi.ErrInvalidBinding) {
		t.Errorf("Shred of a reserved reference: %v", err)
	}
}

func TestShred(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "p1", Field: "name"}
	s := mustSeal(t, e.vault, b, "Ann")
	other := phi.Binding{Subject: "p2", Field: "name"}
	s2 := mustSeal(t, e.vault, other, "Bob")
	if _, err := e.vault.Open(ctx, b, s); err != nil { // warm the cache
		t.Fatal(err)
	}
	destroyed, err := e.vault.Shred(ctx, "p1")
	h, _ := s.Header()
	if err != nil || len(destroyed) != 1 || destroyed[0] != h.KeyID {
		t.Fatalf("Shred: %v %v (sealed under key %d)", destroyed, err, h.KeyID)
	}
	if _, err := e.vault.Open(ctx, b, s); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Open after shred: %v", err)
	}
	for _, target := range []error{phi.ErrKeyNotFound, phi.ErrTampered, phi.ErrUnsupportedVersion, phi.ErrMalformed} {
		if _, err := e.vault.Open(ctx, b, s); errors.Is(err, target) {
			t.Fatalf("ErrShredded also matches %v", target)
		}
	}
	if _, err := e.vault.Seal(ctx, b, []byte("again")); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Seal after shred: %v", err)
	}
	if d, err := e.vault.Shred(ctx, "p1"); err != nil || len(d) != 0 {
		t.Fatalf("second Shred: %v %v", d, err)
	}
	if d, err := e.vault.Shred(ctx, "never-seen"); err != nil || len(d) != 0 {
		t.Fatalf("Shred of unknown subject: %v %v", d, err)
	}
	if got, err := e.vault.Open(ctx, other, s2); err != nil || string(got.Reveal()) != "Bob" {
		t.Fatalf("other subject after shred: %v", err)
	}
}

func TestWarmPathMakesNoKEKOrStoreCalls(t *testing.T) {
	e := newEnvWith(t, phi.VaultConfig{CacheEntries: 10, CacheTTL: time.Minute})
	b := phi.Binding{Subject: "p1", Field: "f"}
	s := mustSeal(t, e.vault, b, "v")
	if e.store.calls.Load() == 0 || e.kek.calls.Load() == 0 {
		t.Fatal("first seal made no store or KEK call")
	}
	sc, kc := e.store.calls.Load(), e.kek.calls.Load()
	for range 50 {
		mustSeal(t, e.vault, b, "v")
		if _, err := e.vault.Open(ctx, b, s); err != nil {
			t.Fatal(err)
		}
	}
	if e.store.calls.Load() != sc || e.kek.calls.Load() != kc {
		t.Fatalf("warm path made %d store and %d KEK calls", e.store.calls.Load()-sc, e.kek.calls.Load()-kc)
	}
	// After the TTL the keys are loaded again: one Get and one Unwrap.
	e.clock.Advance(time.Minute)
	if _, err := e.vault.Open(ctx, b, s); err != nil {
		t.Fatal(err)
	}
	if e.store.calls.Load() != sc+1 || e.kek.calls.Load() != kc+1 {
		t.Fatalf("expired entry: %d store and %d KEK calls, want 1 and 1", e.store.calls.Load()-sc, e.kek.calls.Load()-kc)
	}
}

func TestCacheIsBounded(t *testing.T) {
	e := newEnvWith(t, phi.VaultConfig{CacheEntries: 2, CacheTTL: time.Hour})
	var sealed []phi.Sealed
	subjects := []string{"a", "b", "c"}
	for _, s := range subjects {
		sealed = append(sealed, mustSeal(t, e.vault, phi.Binding{Subject: s, Field: "f"}, s))
	}
	// "a" was evicted (least recently used); "b" and "c" are cached.
	sc := e.store.calls.Load()
	for i := 2; i >= 1; i-- {
		if _, err := e.vault.Open(ctx, phi.Binding{Subject: subjects[i], Field: "f"}, sealed[i]); err != nil {
			t.Fatal(err)
		}
	}
	if e.store.calls.Load() != sc {
		t.Fatal("recently used subjects were not cached")
	}
	if _, err := e.vault.Open(ctx, phi.Binding{Subject: "a", Field: "f"}, sealed[0]); err != nil {
		t.Fatal(err)
	}
	if e.store.calls.Load() != sc+1 {
		t.Fatal("evicted subject was still cached")
	}
}

func TestNoCache(t *testing.T) {
	e := newEnvWith(t, phi.VaultConfig{NoCache: true})
	b := phi.Binding{Subject: "p", Field: "f"}
	s := mustSeal(t, e.vault, b, "v")
	kc := e.kek.calls.Load()
	if _, err := e.vault.Open(ctx, b, s); err != nil {
		t.Fatal(err)
	}
	if e.kek.calls.Load() != kc+1 {
		t.Fatal("disabled cache still cached")
	}
}

func TestBadOptions(t *testing.T) {
	e := newEnv(t)
	kek := testKEK(t, 1)
	for name, cfg := range map[string]phi.VaultConfig{
		"cache-neg":     {CacheEntries: -1, CacheTTL: time.Minute},
		"cache-ttl-neg": {CacheEntries: 10, CacheTTL: -time.Second},
		"nocache-bound": {NoCache: true, CacheEntries: 10},
		"old-nil":       {OldKEKs: []phi.KEK{nil}},
		"index-nil":     {BlindIndexes: map[string]phi.Normalizer{"email": nil}},
		"index-field":   {BlindIndexes: map[string]phi.Normalizer{"": phi.NormalizeEmail}},
		"index-ctl":     {BlindIndexes: map[string]phi.Normalizer{"a\x00": phi.NormalizeEmail}},
	} {
		cfg.Keys, cfg.KEK = e.store, kek
		if _, err := phi.NewVault(cfg); err == nil {
			t.Errorf("%s: NewVault accepted a bad configuration", name)
		}
	}
	if _, err := phi.NewVault(phi.VaultConfig{Keys: nil, KEK: kek}); err == nil {
		t.Error("NewVault accepted a nil store")
	}
	if _, err := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: nil}); err == nil {
		t.Error("NewVault accepted a nil KEK")
	}
}

func TestWrappedKeysetSwapFails(t *testing.T) {
	e := newEnv(t)
	a, b := phi.Binding{Subject: "a", Field: "f"}, phi.Binding{Subject: "b", Field: "f"}
	sa := mustSeal(t, e.vault, a, "A")
	mustSeal(t, e.vault, b, "B")
	wa, err := e.store.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := e.store.Get(ctx, "b")
	// Put a's wrapped keyset under b: b's keyset must refuse to unwrap.
	wa.Ref = "b"
	if err := e.store.Update(ctx, wa, wb.Version); err != nil {
		t.Fatal(err)
	}
	fresh, _ := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: e.kek})
	if _, err := fresh.Open(ctx, b, sa); !errors.Is(err, phi.ErrTampered) {
		t.Fatalf("swapped keyset: got %v, want ErrTampered", err)
	}
	if _, err := fresh.Seal(ctx, b, []byte("x")); !errors.Is(err, phi.ErrTampered) {
		t.Fatalf("Seal with swapped keyset: got %v, want ErrTampered", err)
	}
}

func TestUnknownKEK(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "a", Field: "f"}
	s := mustSeal(t, e.vault, b, "A")
	other, _ := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: testKEK(t, 2)})
	if _, err := other.Open(ctx, b, s); !errors.Is(err, phi.ErrUnknownKEK) {
		t.Fatalf("got %v, want ErrUnknownKEK", err)
	}
}

func TestContextCancelled(t *testing.T) {
	e := newEnv(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.vault.Seal(c, phi.Binding{Subject: "a", Field: "f"}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// Another Vault on the same store (another process) keeps its cached keys
// for at most the TTL after a shred: the documented staleness bound.
func TestShredStalenessBoundedByTTL(t *testing.T) {
	e := newEnvWith(t, phi.VaultConfig{CacheEntries: 10, CacheTTL: time.Minute})
	other, err := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: e.kek, Clock: e.clock, CacheEntries: 10, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b := phi.Binding{Subject: "p1", Field: "f"}
	s := mustSeal(t, e.vault, b, "v")
	if _, err := other.Open(ctx, b, s); err != nil { // other caches the keys
		t.Fatal(err)
	}
	if _, err := e.vault.Shred(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute - time.Second)
	if _, err := other.Open(ctx, b, s); err != nil {
		t.Fatalf("within the TTL the other Vault still uses its cache: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := other.Open(ctx, b, s); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("after the TTL: %v", err)
	}
}
