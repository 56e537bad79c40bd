package hipaakit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// proveAndVerify proves every record of the deployment's stream up to its
// newest checkpoint and verifies each proof offline with the trusted keys
// only; it returns the checkpoint's size.
func proveAndVerify(t *testing.T, d *hipaakit.Deployment) uint64 {
	t.Helper()
	ctx := context.Background()
	p, err := d.Prover("")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := p.TreeCheckpoint(ctx)
	if err != nil || cp.Size == 0 {
		t.Fatalf("checkpoint: size %d, %v", cp.Size, err)
	}
	v := audit.NewProofVerifier(d.TrustedKeys())
	for seq := uint64(1); seq <= cp.Size; seq++ {
		proof, err := p.ProveInclusion(ctx, seq)
		if err != nil {
			t.Fatalf("prove %d: %v", seq, err)
		}
		b, err := proof.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := v.Inclusion(b, cp.Stream); err != nil || got.Record.Seq != seq {
			t.Fatalf("verify %d: %v", seq, err)
		}
	}
	if _, err := p.VerifySince(ctx, cp); err != nil {
		t.Fatalf("VerifySince: %v", err)
	}
	return cp.Size
}

func TestDeploymentProverEmbedded(t *testing.T) {
	cfg, clk := embedded(t, nil)
	d := open(t, cfg)
	login(t, d, clk, "alice")
	l, ok := d.Audit.(interface {
		Checkpoint(context.Context) (audit.Checkpoint, error)
	})
	if !ok {
		t.Fatal("the embedded audit trail cannot checkpoint")
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := proveAndVerify(t, d); n < 2 {
		t.Fatalf("checkpoint covers %d records", n)
	}
	if _, err := d.Prover("other"); !errors.Is(err, audit.ErrNoTree) {
		t.Fatalf("another stream on the file log: %v", err)
	}
}

func TestDeploymentProverPostgres(t *testing.T) {
	_, schema := hipaakittest.PostgresSchema(t)
	cfg, clk := embedded(t, nil)
	cfg.DatabaseURL = withSearchPath(t, hipaakittest.PostgresURL(), schema)
	cfg.InstanceID = "p1"
	d, err := hipaakit.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSchema(t, d.LedgerSchema) })
	login(t, d, clk, "alice")
	if err := d.Close(); err != nil { // the writer signs a checkpoint as it closes
		t.Fatal(err)
	}
	d = open(t, cfg)
	if n := proveAndVerify(t, d); n < 2 {
		t.Fatalf("checkpoint covers %d records", n)
	}
	var fe *audit.FieldError
	if _, err := d.Prover("no spaces allowed"); !errors.As(err, &fe) {
		t.Fatalf("bad stream name: %v", err)
	}
}
