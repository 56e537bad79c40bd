package hipaakit_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/signing"
)

func openTool(t *testing.T, cfg hipaakit.Config) *hipaakit.Tool {
	t.Helper()
	tool, err := hipaakit.OpenTool(context.Background(), cfg)
	if err != nil {
		t.Fatalf("OpenTool: %v", err)
	}
	t.Cleanup(func() {
		if err := tool.Close(); err != nil {
			t.Errorf("Tool.Close: %v", err)
		}
	})
	return tool
}

func seal(t *testing.T, d *hipaakit.Deployment, subjects ...string) {
	t.Helper()
	for _, s := range subjects {
		if _, err := d.Vault.Seal(context.Background(), phi.Binding{Subject: s, Field: "f"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
}

func shred(t *testing.T, tool *hipaakit.Tool, subject string) disposal.Result {
	t.Helper()
	s, err := tool.Shredder(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Shred(context.Background(), subject, "test disposal")
	if err != nil {
		t.Fatalf("shred %s: %v", subject, err)
	}
	return res
}

// A Tool on an embedded data directory: beside the running service the
// stores the service holds fail with durable.ErrLocked (nothing recorded),
// the key store and Inspect work; once it stopped, a tool's shred is on
// the deployment's ledger and its subject stays shredded at the next start.
// A tool creates no master key, instance-ID file, lock or description.
func TestToolEmbedded(t *testing.T) {
	ctx := context.Background()
	cfg, _ := embedded(t, nil)
	cfg.Service = hipaakit.Description{Name: "tool-test"}
	d := open(t, cfg)
	seal(t, d, "p1")
	tool := openTool(t, cfg)
	if !strings.HasPrefix(tool.InstanceID, hipaakit.ToolInstancePrefix) || tool.InstanceID == d.InstanceID {
		t.Fatalf("tool instance %q beside service %q", tool.InstanceID, d.InstanceID)
	}
	if _, err := tool.Audit(ctx); !errors.Is(err, durable.ErrLocked) {
		t.Fatalf("audit beside the service: %v, want durable.ErrLocked", err)
	}
	if _, err := tool.Shredder(ctx); !errors.Is(err, durable.ErrLocked) {
		t.Fatalf("shredder beside the service: %v, want durable.ErrLocked", err)
	}
	keys, err := tool.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if ks, err := keys.List(ctx, "", 10); err != nil || len(ks) != 1 {
		t.Fatalf("key store beside the service: %d keysets, %v", len(ks), err)
	}
	in, err := tool.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	after := openTool(t, cfg)
	res := shred(t, after, "p1")
	if err := after.Close(); err != nil {
		t.Fatal(err)
	}
	if res.Certificate.Ledger.Stream != disposal.DefaultLedgerStream {
		t.Fatalf("certificate names ledger stream %q", res.Certificate.Ledger.Stream)
	}
	d2 := open(t, cfg)
	if _, ok, err := d2.Ledger.Lookup(ctx, "p1"); err != nil || !ok {
		t.Fatalf("the service's ledger lacks the tool's disposal: %t, %v", ok, err)
	}

	fresh, _ := embedded(t, nil)
	if err := os.MkdirAll(fresh.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ft := openTool(t, fresh)
	if _, err := ft.Shredder(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ft.KEK(ctx); !errors.Is(err, hipaakit.ErrMissing) {
		t.Fatalf("KEK of a deployment without one: %v, want ErrMissing", err)
	}
	for _, p := range []string{fresh.DataDir + hipaakit.DefaultKeyFileSuffix, filepath.Join(fresh.DataDir, hipaakit.FileInstanceID),
		filepath.Join(fresh.DataDir, hipaakit.FileLock), filepath.Join(fresh.DataDir, "hipaakit.json")} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the tool created %s (%v)", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(filepath.Join(fresh.DataDir, hipaakit.FileSigningKey)); err != nil {
		t.Errorf("the tool did not create the signing key on first use: %v", err)
	}
}

// On PostgreSQL every run has streams of its own and claims them only when
// it records; it takes no lease and writes no service description. A shred
// through a tool given a data directory no service holds lands in that
// directory's mirror; through a tool whose mirror a running service holds
// it is reported (MirrorHeld) and the service's housekeeping copies it in.
func TestToolPostgres(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	t.Cleanup(func() { dropSchema(t, schema+hipaakit.LedgerSchemaSuffix) })
	cfg, _ := embedded(t, nil)
	cfg.DatabaseURL = withSearchPath(t, hipaakittest.PostgresURL(), schema)
	cfg.Service = hipaakit.Description{Name: "tool-test"}
	d := open(t, cfg)
	seal(t, d, "p1", "p2")
	keyFile := filepath.Join(cfg.DataDir, hipaakit.FileSigningKey)

	reader := openTool(t, hipaakit.Config{DatabaseURL: cfg.DatabaseURL, Signing: hipaakit.SigningConfig{KeyFile: keyFile}})
	if _, err := reader.ReadLedger(ctx); err != nil {
		t.Fatal(err)
	}
	_ = reader.LazyAudit(ctx) // no event: nothing claimed

	same := openTool(t, cfg) // on the service's data directory
	other := cfg
	other.DataDir = filepath.Join(t.TempDir(), "admin")
	other.Signing.KeyFile = keyFile
	elsewhere := openTool(t, other)
	if same.AuditStream() == elsewhere.AuditStream() || !strings.HasPrefix(same.AuditStream(), "hipaakit-cli-") ||
		!strings.HasPrefix(same.LedgerStream(), "disposal-cli-") {
		t.Fatalf("streams %s, %s, %s", same.AuditStream(), elsewhere.AuditStream(), same.LedgerStream())
	}
	r1 := shred(t, same, "p1")
	if !same.MirrorHeld() || r1.Certificate.Ledger.Stream != same.LedgerStream() {
		t.Fatalf("beside the service: MirrorHeld %t, ledger stream %s", same.MirrorHeld(), r1.Certificate.Ledger.Stream)
	}
	shred(t, elsewhere, "p2")
	if elsewhere.MirrorHeld() {
		t.Fatal("a data directory no service holds reported its mirror held")
	}
	for _, tool := range []*hipaakit.Tool{same, elsewhere, reader} {
		if err := tool.Close(); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM hipaakit_audit_streams WHERE stream = $1`, reader.AuditStream()); n != 0 {
		t.Fatalf("a reading run claimed its audit stream")
	}
	if n := count(`SELECT count(*) FROM `+pgx.Identifier{schema + hipaakit.LedgerSchemaSuffix, "hipaakit_audit_streams"}.Sanitize()+
		` WHERE stream = $1`, reader.LedgerStream()); n != 0 {
		t.Fatalf("a reading run claimed its ledger stream")
	}
	if n := count(`SELECT count(*) FROM hipaakit_audit_streams WHERE stream = $1`, same.AuditStream()); n != 1 {
		t.Fatalf("the shredding run's audit stream: %d rows", n)
	}
	if n := count(`SELECT count(*) FROM hipaakit_stream_leases WHERE instance LIKE 'cli-%'`); n != 0 {
		t.Fatalf("tools took %d leases", n)
	}
	if n := count(`SELECT count(*) FROM hipaakit_service_descriptions WHERE instance LIKE 'cli-%'`); n != 0 {
		t.Fatalf("tools wrote %d service descriptions", n)
	}

	trusted, err := signing.ReadKeySet(signing.PublicKeyPath(keyFile))
	if err != nil {
		t.Fatal(err)
	}
	inMirror := func(dir, subject string) bool {
		t.Helper()
		m, err := disposal.OpenFileLedgerReader(ctx, filepath.Join(dir, hipaakit.DirLedgerMirror),
			disposal.FileLedgerOptions{Keys: trusted})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		_, ok, err := m.FindSubject(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !inMirror(other.DataDir, "p2") {
		t.Fatal("the tool's own data directory's mirror lacks its disposal")
	}
	if inMirror(cfg.DataDir, "p1") {
		t.Fatal("the service's mirror has the disposal before its housekeeping ran")
	}
	if _, err := d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if !inMirror(cfg.DataDir, "p1") || !inMirror(cfg.DataDir, "p2") {
		t.Fatal("the service's housekeeping did not copy the tools' disposals into its mirror")
	}
}
