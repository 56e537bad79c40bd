package phi_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// countingStore counts the calls made to a KeyStore.
type countingStore struct {
	phi.KeyStore
	calls atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, ref string) (phi.WrappedKeyset, error) {
	s.calls.Add(1)
	return s.KeyStore.Get(ctx, ref)
}

func (s *countingStore) Create(ctx context.Context, k phi.WrappedKeyset) error {
	s.calls.Add(1)
	return s.KeyStore.Create(ctx, k)
}

func (s *countingStore) Update(ctx context.Context, k phi.WrappedKeyset, prev int64) error {
	s.calls.Add(1)
	return s.KeyStore.Update(ctx, k, prev)
}

func (s *countingStore) Shred(ctx context.Context, ref string) ([]uint32, error) {
	s.calls.Add(1)
	return s.KeyStore.Shred(ctx, ref)
}

func (s *countingStore) List(ctx context.Context, after string, limit int) ([]phi.WrappedKeyset, error) {
	s.calls.Add(1)
	return s.KeyStore.List(ctx, after, limit)
}

// countingKEK counts the calls made to a KEK.
type countingKEK struct {
	phi.KEK
	calls atomic.Int64
}

func (k *countingKEK) Wrap(ctx context.Context, pt, ad []byte) ([]byte, error) {
	k.calls.Add(1)
	return k.KEK.Wrap(ctx, pt, ad)
}

func (k *countingKEK) Unwrap(ctx context.Context, ct, ad []byte) ([]byte, error) {
	k.calls.Add(1)
	return k.KEK.Unwrap(ctx, ct, ad)
}

// testKEK returns a local KEK with a fixed key derived from seed.
func testKEK(t testing.TB, seed byte) *localkek.KEK {
	t.Helper()
	k, err := localkek.New(bytes.Repeat([]byte{seed}, localkek.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	vault *phi.Vault
	store *countingStore
	kek   *countingKEK
	clock *clock.Fake
}

// newEnv returns a Vault over a counting memstore and a counting local KEK.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, phi.VaultConfig{})
}

// newEnvWith is newEnv with the other settings of cfg (its Keys, KEK and
// Clock are the env's).
func newEnvWith(t testing.TB, cfg phi.VaultConfig) *env {
	t.Helper()
	e := &env{
		store: &countingStore{KeyStore: memstore.New(memstore.Config{})},
		kek:   &countingKEK{KEK: testKEK(t, 1)},
		clock: clock.NewFake(t0),
	}
	cfg.Keys, cfg.KEK, cfg.Clock = e.store, e.kek, e.clock
	v, err := phi.NewVault(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.vault = v
	return e
}
