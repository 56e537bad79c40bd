package ledgertest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// Run runs the suite. newStore returns an empty store; the suite closes
// it (if it has a Close method) at the end of each subtest.
func Run(t *testing.T, newStore func(t *testing.T) disposal.LedgerStore) {
	ctx := context.Background()
	open := func(t *testing.T) (disposal.LedgerStore, *disposal.Ledger) {
		s := newStore(t)
		l := disposal.NewLedger(s)
		t.Cleanup(func() { l.Close() })
		return s, l
	}

	t.Run("ShredsAreRecordedFoundAndReplayed", func(t *testing.T) {
		store, ledger := open(t)
		sh, vault := shredder(t, ledger)
		subjects := []string{"patient-b", "patient-a", "patient-c"}
		for _, s := range subjects {
			if _, err := vault.Seal(ctx, phi.Binding{Subject: s, Field: "dob"}, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		var last uint64
		for _, s := range subjects {
			res, err := sh.Shred(ctx, s, "conformance")
			if err != nil {
				t.Fatal(err)
			}
			pos := res.Certificate.Ledger
			if pos.Stream != store.Stream() || pos.Seq <= last {
				t.Fatalf("entry for %s at %+v after seq %d", s, pos, last)
			}
			last = pos.Seq
			r, ok, err := store.FindSubject(ctx, s)
			if err != nil || !ok || r.Seq != pos.Seq || r.Event.Target.Subject != s {
				t.Fatalf("FindSubject(%s) = %+v %v %v", s, r, ok, err)
			}
		}
		if _, ok, err := store.FindSubject(ctx, "patient-never"); ok || err != nil {
			t.Fatalf("FindSubject of an unknown subject: %v %v", ok, err)
		}
		var seen []string
		if err := ledger.Entries(ctx, func(e disposal.Entry) error {
			seen = append(seen, e.Statement.Subject)
			return nil
		}); err != nil || fmt.Sprint(seen) != fmt.Sprint(subjects) {
			t.Fatalf("Entries = %v, %v; want %v", seen, err, subjects)
		}
		restored := memstore.New(memstore.Config{})
		if n, err := ledger.Replay(ctx, restored); err != nil || n != len(subjects) {
			t.Fatalf("Replay = %d, %v", n, err)
		}
		for _, s := range subjects {
			if _, err := restored.Get(ctx, s); !errors.Is(err, phi.ErrShredded) {
				t.Fatalf("%s after replay: %v", s, err)
			}
		}
	})

	t.Run("ConcurrentAppends", func(t *testing.T) {
		store, ledger := open(t)
		sh, vault := shredder(t, ledger)
		const n = 12
		for i := 0; i < n; i++ {
			vault.Seal(ctx, phi.Binding{Subject: fmt.Sprintf("patient-%02d", i), Field: "dob"}, []byte("x"))
		}
		var wg sync.WaitGroup
		seqs := make(chan uint64, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res, err := sh.Shred(ctx, fmt.Sprintf("patient-%02d", i), "conformance")
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- res.Certificate.Ledger.Seq
			}(i)
		}
		wg.Wait()
		close(seqs)
		seen := map[uint64]bool{}
		for s := range seqs {
			if seen[s] {
				t.Fatalf("two appends returned seq %d", s)
			}
			seen[s] = true
		}
		if got, err := ledger.Verify(ctx); err != nil || got != n {
			t.Fatalf("Verify = %d, %v", got, err)
		}
		count := 0
		if err := store.Scan(ctx, 0, func(audit.Record) error { count++; return nil }); err != nil || count != n {
			t.Fatalf("Scan saw %d records, %v", count, err)
		}
	})

	t.Run("ScanStopsOnCallbackError", func(t *testing.T) {
		store, ledger := open(t)
		sh, vault := shredder(t, ledger)
		for _, s := range []string{"patient-1", "patient-2"} {
			vault.Seal(ctx, phi.Binding{Subject: s, Field: "dob"}, []byte("x"))
			if _, err := sh.Shred(ctx, s, "conformance"); err != nil {
				t.Fatal(err)
			}
		}
		stop := errors.New("stop")
		calls := 0
		if err := store.Scan(ctx, 0, func(audit.Record) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("Scan = %v after %d calls", err, calls)
		}
	})
}

func shredder(t *testing.T, ledger *disposal.Ledger) (*disposal.Shredder, *phi.Vault) {
	t.Helper()
	kek, err := localkek.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := memstore.New(memstore.Config{})
	vault, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	sh, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: ledger, Audit: audit.Discard{}, Holds: disposal.NoHolds{}, SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	return sh, vault
}
