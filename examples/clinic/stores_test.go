package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// storeSetup is one set of stores the end-to-end tests run on.
type storeSetup struct {
	cfg config
	// loseKeys destroys the key store, as a disaster would.
	loseKeys func(t *testing.T)
}

// onEveryStore runs test on the embedded stores and on PostgreSQL (skipped
// with a message without a server, failing under CI; see package hipaakittest).
// The test and both runs are parallel: each has its own directory or schema.
func onEveryStore(t *testing.T, test func(t *testing.T, s storeSetup)) {
	t.Parallel()
	t.Run("files", func(t *testing.T) { t.Parallel(); test(t, fileSetup(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); test(t, pgSetup(t)) })
}

func fileSetup(t *testing.T) storeSetup {
	dir := t.TempDir()
	return storeSetup{cfg: testConfig(dir), loseKeys: func(t *testing.T) {
		if err := os.RemoveAll(filepath.Join(dir, hipaakit.DirKeys)); err != nil {
			t.Fatal(err)
		}
	}}
}

// pgSetup gives the clinic a fresh schema through its DATABASE_URL (the
// schema on the URL's search_path) and drops the ledger's schema beside it
// at the end.
func pgSetup(t *testing.T) storeSetup {
	pool, schema := hipaakittest.PostgresSchema(t)
	cfg := testConfig(t.TempDir())
	cfg.DatabaseURL = withSearchPath(t, hipaakittest.PostgresURL(), schema)
	t.Cleanup(func() {
		_, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema + hipaakit.LedgerSchemaSuffix}.Sanitize()+" CASCADE")
		if err != nil {
			t.Logf("drop the ledger schema: %v", err)
		}
	})
	return storeSetup{cfg: cfg, loseKeys: func(t *testing.T) {
		if _, err := pool.Exec(context.Background(), "DELETE FROM phi_keysets"); err != nil {
			t.Fatal(err)
		}
	}}
}

// withSearchPath returns dsn (a URL or keyword/value string) with its
// connections confined to schema.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("the test database URL does not parse: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// keywordDSN rewrites a postgres:// URL in keyword/value form
// ("host=... dbname=...").
func keywordDSN(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn // already keyword/value
	}
	kv := []string{"host=" + u.Hostname(), "dbname=" + strings.TrimPrefix(u.Path, "/")}
	if p := u.Port(); p != "" {
		kv = append(kv, "port="+p)
	}
	if u.User != nil {
		kv = append(kv, "user="+u.User.Username())
		if pw, ok := u.User.Password(); ok {
			kv = append(kv, "password="+pw)
		}
	}
	for k, vs := range u.Query() {
		kv = append(kv, k+"="+vs[0])
	}
	return strings.Join(kv, " ")
}

// TestKeywordDSNServiceConfig: a DATABASE_URL in keyword/value form works,
// but cannot be stated in hipaakit.json (which takes a postgres:// URL
// without password): the file is not written and the log says why.
func TestKeywordDSNServiceConfig(t *testing.T) {
	t.Parallel()
	s := pgSetup(t)
	s.cfg.DatabaseURL = keywordDSN(t, s.cfg.DatabaseURL)
	tc := startClinicWith(t, s.cfg, nil, nil)
	tc.login(rolePhysician)
	if _, err := os.Stat(filepath.Join(s.cfg.DataDir, "hipaakit.json")); !os.IsNotExist(err) {
		t.Fatalf("hipaakit.json written for a keyword/value DSN: %v", err)
	}
	if !strings.Contains(tc.logs.String(), "hipaakit.json not written") {
		t.Fatalf("no warning in the log: %s", tc.logs.String())
	}
}
