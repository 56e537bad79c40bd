package retention_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
	"github.com/hipaakit/hipaakit/retention/pgtables"
)

// Sweeper throughput in subjects per second, on the file stores (embedded
// default: filestore keys, file ledger, file holds and cursor) and on
// PostgreSQL (pgstore keys, pgledger, pgretention holds and cursor,
// pgtables over a table). b.N expired subjects are swept in one pass.
//
// Baseline: BenchmarkSweepBaseline*, calling Shredder.Shred directly, one
// subject after another, for the same subjects on the same stores — the
// disposal cost any sweep pays. The sweeper adds source reads, evaluation,
// hold checks and cursor writes, and runs SweeperConfig.Workers (default 4)
// shreds at once, which overlap their fsyncs.

var benchPolicies = retention.MustPolicies(retention.Policy{Kind: "encounter", Keep: retention.Period{Years: 6}})

type benchStores struct {
	vault    *phi.Vault
	shredder *disposal.Shredder
	holds    *retention.Registry
	state    retention.SweepState
	source   func(ids []string) retention.Source
}

func fileStores(b *testing.B) benchStores {
	ctx := context.Background()
	dir := b.TempDir()
	keys, err := filestore.Open(filepath.Join(dir, "keys"), filestore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ls, err := disposal.OpenFileLedgerStore(ctx, filepath.Join(dir, "ledger"), disposal.FileLedgerOptions{Signer: priv})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ls.Close() })
	hs, _ := retention.OpenFileHoldStore(filepath.Join(dir, "holds"))
	st, _ := retention.OpenFileSweepState(filepath.Join(dir, "sweep"))
	bs := assemble(b, keys, ls, hs, st, priv)
	bs.source = func(ids []string) retention.Source {
		src := &memSource{}
		for _, id := range ids {
			src.subjects = append(src.subjects, retention.Subject{ID: id, Records: []retention.Record{{ID: "e-" + id, Kind: "encounter", Created: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}}})
		}
		return src
	}
	return bs
}

func pgStores(b *testing.B) benchStores {
	ctx := context.Background()
	pool := hipaakittest.Postgres(b)
	for _, m := range []func(context.Context, *pgxpool.Pool) error{pgstore.Migrate, pgledger.Migrate, pgretention.Migrate} {
		if err := m(ctx, pool); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE encounters (id bigserial PRIMARY KEY, patient_id text NOT NULL, created_at timestamptz NOT NULL);
		CREATE INDEX ON encounters ((patient_id COLLATE "C"))`); err != nil {
		b.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ls, err := pgledger.Open(ctx, pool, pgledger.Options{Signer: priv})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ls.Close() })
	bs := assemble(b, pgstore.New(pool, pgstore.Config{}), ls, pgretention.NewHoldStore(pool), pgretention.NewSweepState(pool, "bench"), priv)
	bs.source = func(ids []string) retention.Source {
		rows := make([][]any, len(ids))
		for i, id := range ids {
			rows[i] = []any{id, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"encounters"}, []string{"patient_id", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		src, err := pgtables.New(pool, pgtables.Table{Name: "encounters", Kind: "encounter", Subject: "patient_id", ID: "id", Created: "created_at"})
		if err != nil {
			b.Fatal(err)
		}
		return src
	}
	return bs
}

func assemble(b *testing.B, keys phi.KeyStore, ls disposal.LedgerStore, hs retention.HoldStore, st retention.SweepState, priv ed25519.PrivateKey) benchStores {
	kek, _ := localkek.New(make([]byte, 32))
	vault, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	if err != nil {
		b.Fatal(err)
	}
	reg, err := retention.NewRegistry(retention.RegistryConfig{Holds: hs, Audit: audit.Discard{}})
	if err != nil {
		b.Fatal(err)
	}
	sh, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: disposal.NewLedger(ls), Audit: audit.Discard{}, Holds: reg, SigningKey: priv})
	if err != nil {
		b.Fatal(err)
	}
	return benchStores{vault: vault, shredder: sh, holds: reg, state: st}
}

// seal gives n fresh subjects a keyset and returns their IDs.
func (s benchStores) seal(b *testing.B, prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%07d", prefix, i)
		if _, err := s.vault.Seal(context.Background(), phi.Binding{Subject: ids[i], Field: "dob"}, []byte("x")); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

func benchSweep(b *testing.B, s benchStores, workers int) {
	ids := s.seal(b, "patient", b.N)
	sw, err := retention.NewSweeper(retention.SweeperConfig{Source: s.source(ids), Policies: benchPolicies, Holds: s.holds, Disposer: s.shredder, State: s.state,
		Clock: clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rep, err := sw.Sweep(context.Background())
	b.StopTimer()
	if err != nil || rep.Shredded != b.N {
		b.Fatalf("swept %d of %d: %v", rep.Shredded, b.N, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "subjects/s")
}

func benchDirect(b *testing.B, s benchStores) {
	ids := s.seal(b, "patient", b.N)
	b.ResetTimer()
	for _, id := range ids {
		if _, err := s.shredder.Shred(context.Background(), id, "benchmark", disposal.Kinds("encounter")); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "subjects/s")
}

func BenchmarkSweepFile(b *testing.B) {
	for _, w := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchSweep(b, fileStores(b), w) })
	}
}

func BenchmarkSweepBaselineFile(b *testing.B) { benchDirect(b, fileStores(b)) }

func BenchmarkSweepPostgres(b *testing.B) {
	for _, w := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchSweep(b, pgStores(b), w) })
	}
}

func BenchmarkSweepBaselinePostgres(b *testing.B) { benchDirect(b, pgStores(b)) }
