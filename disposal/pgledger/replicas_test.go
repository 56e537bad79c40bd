package pgledger_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/signing"
)

// instance is one process of a deployment: its own pool, key store, vault,
// ledger stream and signing key, on the shared schema.
type instance struct {
	vault    *phi.Vault
	ledger   *disposal.Ledger
	shredder *disposal.Shredder
	audit    *audittest.Memory
}

func newInstances(t *testing.T, n int) []*instance {
	t.Helper()
	ctx := context.Background()
	_, schema := hipaakittest.PostgresSchema(t)
	privs := make([]ed25519.PrivateKey, n)
	pubs := make([]ed25519.PublicKey, n)
	for i := range privs {
		pubs[i], privs[i], _ = ed25519.GenerateKey(rand.Reader)
	}
	trusted, err := signing.NewKeySet(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := localkek.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*instance, n)
	for i := range out {
		pool := hipaakittest.PostgresPool(t, schema)
		if err := pgstore.Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
		if err := pgledger.Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
		keys := pgstore.New(pool, pgstore.Config{})
		vault, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vault.Close() })
		store, err := pgledger.Open(ctx, pool, pgledger.Options{Stream: fmt.Sprintf("disposal-%d", i), Signer: privs[i], Keys: trusted})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		in := &instance{vault: vault, ledger: disposal.NewLedger(store), audit: &audittest.Memory{}}
		in.shredder, err = disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: in.ledger, Audit: in.audit,
			Holds: disposal.NoHolds{}, SigningKey: privs[i]})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = in
	}
	return out
}

// Three instances shredding one subject at once (barrier start) record one
// disposal: one ledger entry, one certificate; the other two return that
// certificate as repeated.
func TestConcurrentShredsOnThreeInstancesRecordOne(t *testing.T) {
	const n = 3
	ins := newInstances(t, n)
	ctx := context.Background()
	const subject = "patient-1"
	b := phi.Binding{Subject: subject, Field: "dob"}
	sealed, err := ins[0].vault.Seal(ctx, b, []byte("1970-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	results := make([]disposal.Result, n)
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			results[i], errs[i] = ins[i].shredder.Shred(ctx, subject, "patient request")
		}()
	}
	start.Done()
	wg.Wait()
	first := 0
	for i := range ins {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		if !results[i].Repeated {
			first++
		}
		if results[i].Certificate.ID != results[0].Certificate.ID || results[i].Certificate.Ledger != results[0].Certificate.Ledger {
			t.Fatalf("instance %d returned certificate %s at %+v, instance 0 %s at %+v", i,
				results[i].Certificate.ID, results[i].Certificate.Ledger, results[0].Certificate.ID, results[0].Certificate.Ledger)
		}
	}
	if first != 1 {
		t.Fatalf("%d shreds recorded a new disposal, want exactly 1", first)
	}
	entries := 0
	if err := ins[1].ledger.Entries(ctx, func(e disposal.Entry) error {
		if e.Statement.Subject == subject {
			entries++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if entries != 1 {
		t.Fatalf("the ledger holds %d entries for the subject, want 1", entries)
	}
	// Every instance audited its call: one new disposal, two repeats.
	reasons := map[string]int{}
	for _, in := range ins {
		for _, e := range in.audit.EventsWith(audit.ActionShred) {
			reasons[e.Reason]++
		}
	}
	if reasons["cryptographic_erase"] != 1 || reasons["already_shredded"] != 2 {
		t.Fatalf("shred events by reason: %v, want one cryptographic_erase and two already_shredded", reasons)
	}
	for i, in := range ins {
		if _, err := in.vault.Open(ctx, b, sealed); !errors.Is(err, phi.ErrShredded) {
			t.Fatalf("instance %d opens the shredded subject: %v", i, err)
		}
	}
}
