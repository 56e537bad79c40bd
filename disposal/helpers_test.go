package disposal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
	"github.com/hipaakit/hipaakit/signing"
)

// memLedger is an in-memory LedgerStore with a real hash chain, for tests of
// the Shredder's logic in isolation from file and PostgreSQL storage.
type memLedger struct {
	mu       sync.Mutex
	records  []audit.Record
	failNext error
}

func (m *memLedger) Stream() string { return "disposal" }

func (m *memLedger) Append(ctx context.Context, e audit.Event) (audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failNext; err != nil {
		m.failNext = nil
		return audit.Record{}, err
	}
	r := audit.Record{Stream: m.Stream(), Seq: uint64(len(m.records) + 1), Event: e}
	if len(m.records) > 0 {
		r.Prev = m.records[len(m.records)-1].Hash
	}
	h, err := r.ComputeHash()
	if err != nil {
		return audit.Record{}, err
	}
	r.Hash = h
	m.records = append(m.records, r)
	return r, nil
}

func (m *memLedger) Scan(ctx context.Context, after uint64, fn func(audit.Record) error) error {
	m.mu.Lock()
	recs := append([]audit.Record(nil), m.records...)
	m.mu.Unlock()
	for _, r := range recs {
		if r.Seq <= after {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memLedger) FindSubject(ctx context.Context, subject string) (audit.Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.records {
		if r.Event.Target.Subject == subject {
			return r, true, nil
		}
	}
	return audit.Record{}, false, nil
}

// holdSet is a HoldChecker holding subject holds.
type holdSet map[string]string

func (h holdSet) SubjectHold(ctx context.Context, subject string, kinds []string) (bool, string, error) {
	id, ok := h[subject]
	return ok, id, nil
}

type fixture struct {
	vault    *phi.Vault
	keys     phi.KeyStore
	ledger   *Ledger
	store    LedgerStore
	audit    *audittest.Memory
	shredder *Shredder
	pub      ed25519.PublicKey
	clock    *clock.Fake
}

func newKEK(t testing.TB) phi.KEK {
	t.Helper()
	k, err := localkek.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newFixture wires a Shredder over keys (a fresh memstore when nil) and
// store (a fresh memLedger when nil).
func newFixture(t testing.TB, keys phi.KeyStore, store LedgerStore, holds HoldChecker) *fixture {
	t.Helper()
	if keys == nil {
		keys = memstore.New(memstore.Config{})
	}
	if store == nil {
		store = &memLedger{}
	}
	if holds == nil {
		holds = NoHolds{}
	}
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: newKEK(t)})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{vault: v, keys: keys, store: store, ledger: NewLedger(store), audit: &audittest.Memory{}, pub: pub,
		clock: clock.NewFake(time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC))}
	f.shredder, err = New(Config{Vault: v, Keys: keys, Ledger: f.ledger, Audit: f.audit, Holds: holds, SigningKey: priv, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) seal(t testing.TB, subject, field string, pt string) phi.Sealed {
	t.Helper()
	s, err := f.vault.Seal(context.Background(), phi.Binding{Subject: subject, Field: field}, []byte(pt))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// trust returns the key set of keys.
func trust(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testKeySet is the KeySet of keys.
func testKeySet(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
