package hipaakit_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/retention"
)

// tree hashes every file under the directories, so that a test can prove
// nothing was written, created or removed.
func tree(t *testing.T, dirs ...string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				out[p+"/"] = [32]byte{}
				return nil
			}
			b, err := os.ReadFile(p)
			out[p] = sha256.Sum256(b)
			return err
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return out
}

// populate seals for two subjects, shreds one, sets a legal hold and makes
// a backup.
func populate(t *testing.T, d *hipaakit.Deployment) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []string{"p1", "p2"} {
		if _, err := d.Vault.Seal(ctx, phi.Binding{Subject: s, Field: "f"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Holds.Set(ctx, retention.HoldRequest{Subject: "p2", Reason: "litigation", SetBy: "u-privacy"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Shredder.Shred(ctx, "p1", "retention expired"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.BackupAll(ctx); err != nil {
		t.Fatal(err)
	}
}

// inspectAll reads every store of in and checks what populate left there.
func inspectAll(t *testing.T, in *hipaakit.Inspection, d *hipaakit.Deployment) {
	t.Helper()
	ctx := context.Background()
	if in.TrustedKeys().Len() == 0 || !in.TrustedKeys().Keys()[0].Equal(d.TrustedKeys().Keys()[0]) {
		t.Fatal("the inspection does not trust the deployment's signing key")
	}
	trail, err := in.Audit()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trail.Verify(ctx, audit.VerifyOptions{Keys: in.TrustedKeys()}); err != nil {
		t.Fatalf("verify the trail: %v", err)
	}
	shreds := 0
	for _, err := range trail.Search(ctx, audit.Filter{Actions: []audit.Action{audit.ActionShred}}) {
		if err != nil {
			t.Fatal(err)
		}
		shreds++
	}
	if shreds == 0 {
		t.Fatal("no shred event found")
	}
	ledger, err := in.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ledger.Verify(ctx); err != nil || n != 1 {
		t.Fatalf("ledger: %d disposals, %v", n, err)
	}
	if e, ok, err := ledger.Lookup(ctx, "p1"); err != nil || !ok || e.Statement.Subject != "p1" {
		t.Fatalf("ledger lookup: %+v %t %v", e, ok, err)
	}
	keys, err := in.KeyStore()
	if err != nil {
		t.Fatal(err)
	}
	if ks, err := keys.List(ctx, "", 10); err != nil || len(ks) != 1 {
		t.Fatalf("keys: %d, %v", len(ks), err)
	}
	holds, err := in.Holds(ctx)
	if err != nil || len(holds) != 1 || !holds[0].Active() {
		t.Fatalf("holds: %+v %v", holds, err)
	}
	if _, err := in.Users(ctx); err != nil {
		t.Fatal(err)
	}
	repo, err := in.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := repo.ListReport(ctx); err != nil || len(list.Backups) == 0 {
		t.Fatalf("backups: %+v %v", list, err)
	}
}

// TestInspectEmbedded: Inspect reads every store of a running embedded
// deployment (whose lock it does not take) and writes nothing: the data
// directory, the key file and the backups are byte for byte as before.
func TestInspectEmbedded(t *testing.T) {
	cfg, _ := embedded(t, nil)
	d := open(t, cfg)
	populate(t, d)
	dirs := []string{cfg.DataDir, hipaakit.DefaultKeyFile(cfg.DataDir), hipaakit.DefaultBackupDir(cfg.DataDir)}
	before := tree(t, dirs...)
	in, err := hipaakit.Inspect(context.Background(), hipaakit.Config{DataDir: cfg.DataDir})
	if err != nil {
		t.Fatalf("Inspect beside the running deployment: %v", err)
	}
	defer in.Close()
	inspectAll(t, in, d)
	if in.KeyInsideDataDir() {
		t.Fatal("the default key file is reported inside the data directory")
	}
	after := tree(t, dirs...)
	for p, h := range before {
		if after[p] != h {
			t.Errorf("Inspect changed %s", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("Inspect created %s", p)
		}
	}
}

// TestInspectPostgres: on PostgreSQL Inspect reads every replica's streams
// beside a running replica, claims no lease and writes no row.
func TestInspectPostgres(t *testing.T) {
	s := newReplicaSet(t)
	cfg := s.config("a")
	d := open(t, cfg)
	populate(t, d)
	rows := s.rows(d.LedgerSchema)
	in, err := hipaakit.Inspect(context.Background(), hipaakit.Config{DataDir: t.TempDir(), DatabaseURL: cfg.DatabaseURL,
		KEK: cfg.KEK, Backup: cfg.Backup, Signing: hipaakit.SigningConfig{KeyFile: cfg.Signing.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.Schema != d.Schema || in.LedgerSchema != d.LedgerSchema {
		t.Fatalf("schemas %q %q, want %q %q", in.Schema, in.LedgerSchema, d.Schema, d.LedgerSchema)
	}
	inspectAll(t, in, d)
	if _, err := in.DB.Exec(context.Background(), "CREATE TABLE inspect_probe (x int)"); err == nil {
		t.Fatal("the inspection's sessions can write")
	}
	if got := s.rows(d.LedgerSchema); got != rows {
		t.Fatalf("rows %d after Inspect, %d before", got, rows)
	}
	if err := d.Ready(context.Background()); err != nil {
		t.Fatalf("the running replica is no longer ready: %v", err)
	}
}

// TestInspectRefusesMissing: no data directory, an empty schema and no
// signing key are each refused with a *MissingError naming what is missing,
// and nothing is created.
func TestInspectRefusesMissing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	_, err := hipaakit.Inspect(ctx, hipaakit.Config{DataDir: dir})
	var me *hipaakit.MissingError
	if !errors.As(err, &me) || !errors.Is(err, hipaakit.ErrMissing) || !strings.Contains(me.What, "data directory") {
		t.Fatalf("no data directory: %v", err)
	}
	if strings.Contains(err.Error(), dir) {
		t.Fatal("the error names the path")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Inspect created the data directory")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(dir, 0o700))
	_, err = hipaakit.Inspect(ctx, hipaakit.Config{DataDir: dir})
	if !errors.As(err, &me) || !strings.Contains(me.What, "signing key") {
		t.Fatalf("no signing key: %v", err)
	}
	if _, err := os.Stat(hipaakit.DefaultKeyFile(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Inspect created a master key")
	}

	_, schema := hipaakittest.PostgresSchema(t)
	_, err = hipaakit.Inspect(ctx, hipaakit.Config{DataDir: dir, DatabaseURL: withSearchPath(t, hipaakittest.PostgresURL(), schema)})
	if !errors.As(err, &me) || !strings.Contains(me.What, "audit trail") {
		t.Fatalf("empty schema: %v", err)
	}
	var n int
	must(hipaakittest.Postgres(t).QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema+hipaakit.LedgerSchemaSuffix).Scan(&n))
	if n != 0 {
		t.Fatal("Inspect created the ledger's schema")
	}
}
