package hipaakit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/audit/witness"
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

// TestDeploymentWitnessesAndArchive wires a witness publisher and an
// archive through the deployment: the checkpoint is cosigned and stored
// where witness-status reads it, and the archive finds the embedded log
// (no segment is old enough yet).
func TestDeploymentWitnessesAndArchive(t *testing.T) {
	ctx := context.Background()
	cfg, clk := embedded(t, nil)
	d := open(t, cfg)
	login(t, d, clk, "alice")
	if _, err := d.Audit.(interface {
		Checkpoint(context.Context) (audit.Checkpoint, error)
	}).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	wk := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	w, err := witness.New(witness.Config{Name: "witness.example/w1", Signer: wk, Logs: d.TrustedKeys(), StatePath: filepath.Join(t.TempDir(), "state")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.NewWitnessPublisher(witness.PublisherConfig{Witnesses: []witness.Endpoint{{Key: w.Key(), Adder: w}}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.PublishNow(ctx); err != nil || !st.Witnessed {
		t.Fatalf("publish: %+v %v", st, err)
	}
	prover, _ := d.Prover("")
	if _, err := witness.CheckStored(ctx, d.CosignatureStore(), prover, d.TrustedKeys(), []witness.Key{w.Key()}, 1); err != nil {
		t.Fatalf("stored: %v", err)
	}
	a, err := d.NewArchive(archive.Config{Target: &archive.MemoryTarget{Clock: clk}})
	if err != nil {
		t.Fatal(err)
	}
	src, err := d.ArchiveSource()
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := a.Archive(ctx, src); err != nil || len(rep.Archived) != 0 {
		t.Fatalf("archive: %+v %v", rep, err)
	}
}
