package hipaakit_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/signing"
)

// Three deployments (replicas) opened at once on one empty PostgreSQL
// schema, with one master key, all start; a shred through one is refused by
// the others, which had the subject's keys cached, within a second.
func TestReplicasStartTogetherAndSeeShreds(t *testing.T) {
	const n = 3
	_, schema := hipaakittest.PostgresSchema(t)
	t.Cleanup(func() { dropSchema(t, schema+hipaakit.LedgerSchemaSuffix) })
	key := make([]byte, localkek.KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	// One signing key shared by the replicas: a replica drawing its own on
	// a deployment that already holds signed records is refused
	// (ErrSigningKeyMissing), and starting together they race to be first.
	signKey := filepath.Join(t.TempDir(), "signing-key.pem")
	if _, err := signing.LoadOrCreate(signKey); err != nil {
		t.Fatal(err)
	}
	cfgs := make([]hipaakit.Config, n)
	for i := range cfgs {
		cfgs[i], _ = embedded(t, nil)
		cfgs[i].DatabaseURL = withSearchPath(t, hipaakittest.PostgresURL(), schema)
		cfgs[i].KEK.Key = localkek.Encode(key)
		cfgs[i].InstanceID = fmt.Sprintf("replica-%d", i)
		cfgs[i].AuditStream = fmt.Sprintf("hipaakit-%d", i)
		cfgs[i].Signing.KeyFile = signKey
	}
	ds := make([]*hipaakit.Deployment, n)
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			ds[i], errs[i] = hipaakit.Open(context.Background(), cfgs[i])
		}()
	}
	start.Done()
	wg.Wait()
	for i := range ds {
		if ds[i] != nil {
			t.Cleanup(func() { ds[i].Close() })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	ctx := context.Background()
	b := phi.Binding{Subject: "patient-1", Field: "name", Tenant: "t1"}
	sealed, err := ds[0].Vault.Seal(ctx, b, []byte("Jane Doe"))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		deadline := time.Now().Add(5 * time.Second)
		for !d.Vault.KeyChangesLive() {
			if time.Now().After(deadline) {
				t.Fatalf("replica %d does not receive key changes", i)
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := d.Vault.Open(ctx, b, sealed); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if _, err := ds[0].Vault.Shred(ctx, b.Subject); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for i := 1; i < n; i++ {
		for {
			_, err := ds[i].Vault.Open(ctx, b, sealed)
			if errors.Is(err, phi.ErrShredded) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d still opens the subject a second after the shred (%v)", i, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
}
