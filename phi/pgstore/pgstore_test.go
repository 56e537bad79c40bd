package pgstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/keystoretest"
	"github.com/hipaakit/hipaakit/phi/pgstore"
)

// newStore returns a migrated Store in a fresh schema, and its pool.
func newStore(t *testing.T) (*pgstore.Store, *pgxpool.Pool) {
	t.Helper()
	pool := hipaakittest.Postgres(t)
	if err := pgstore.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pgstore.New(pool, pgstore.Config{}), pool
}

func TestConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) phi.KeyStore { s, _ := newStore(t); return s })
}

// TestConformanceShared runs the shared-storage checks over two pools (two
// sets of connections, as two processes would have) on one schema.
func TestConformanceShared(t *testing.T) {
	keystoretest.RunShared(t, func(t *testing.T) (phi.KeyStore, phi.KeyStore) {
		pool, schema := hipaakittest.PostgresSchema(t)
		if err := pgstore.Migrate(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		cfg, err := pgxpool.ParseConfig(hipaakittest.PostgresURL())
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		other, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(other.Close)
		return pgstore.New(pool, pgstore.Config{}), pgstore.New(other, pgstore.Config{})
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	pool := hipaakittest.Postgres(t)
	for range 3 {
		if err := pgstore.Migrate(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM hipaakit_migrations WHERE component = 'phi_keystore'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d migrations recorded, want 2 (one per migration file)", n)
	}
}

// TestShredClearsRow checks the row itself: after Shred no ciphertext or key
// ID is left in the table, for a stored and a never-stored reference.
func TestShredClearsRow(t *testing.T) {
	ctx := context.Background()
	s, pool := newStore(t)
	k := keystoretest.Keyset("subject-1", 1)
	if err := s.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"subject-1", "never-stored"} {
		if _, err := s.Shred(ctx, ref); err != nil {
			t.Fatal(err)
		}
		var ct []byte
		var ids []int64
		var kek string
		var shredded *time.Time
		err := pool.QueryRow(ctx, `SELECT ciphertext, key_ids, kek_id, shredded_at FROM phi_keysets WHERE ref = $1`, ref).Scan(&ct, &ids, &kek, &shredded)
		if err != nil {
			t.Fatal(err)
		}
		if ct != nil || len(ids) != 0 || kek != "" || shredded == nil {
			t.Fatalf("%s: tombstone row holds ciphertext %d bytes, key IDs %v, KEK %q, shredded_at %v", ref, len(ct), ids, kek, shredded)
		}
	}
}

// TestTombstoneConstraint checks that the schema itself refuses a tombstone
// that still holds key material.
func TestTombstoneConstraint(t *testing.T) {
	ctx := context.Background()
	_, pool := newStore(t)
	_, err := pool.Exec(ctx, `INSERT INTO phi_keysets (ref, version, kek_id, ciphertext, key_ids, created_at, updated_at, shredded_at)
		VALUES ('x', 1, 'k', '\x01', '{1}', now(), now(), now())`)
	if err == nil {
		t.Fatal("the schema accepted a tombstone with a ciphertext")
	}
}

// TestListCollation checks byte order where a linguistic collation would
// differ, under a database default collation that might not be "C".
func TestListCollation(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	refs := []string{"b", "B", "a", "A", "_x", "a-b", "a_b", "ab", "a.b"}
	for i, ref := range refs {
		if err := s.Create(ctx, keystoretest.Keyset(ref, i)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range list {
		got = append(got, k.Ref)
	}
	if want := "A B _x a a-b a.b a_b ab b"; strings.Join(got, " ") != want {
		t.Fatalf("List order %q, want %q", strings.Join(got, " "), want)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, ref := range []string{"", strings.Repeat("a", phi.MaxRefLen+1), "a b", "ü"} {
		if err := s.Create(ctx, keystoretest.Keyset(ref, 1)); err == nil {
			t.Errorf("Create(%q) succeeded", ref)
		}
		if _, err := s.Get(ctx, ref); err == nil || errors.Is(err, phi.ErrKeyNotFound) {
			t.Errorf("Get(%q) = %v, want an invalid-reference error", ref, err)
		}
	}
	if _, err := s.List(ctx, "", 0); err == nil {
		t.Error("List with limit 0 succeeded")
	}
}

func TestUnreachableDatabase(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://nobody:SECRET-CANARY@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = pgstore.New(pool, pgstore.Config{}).Get(context.Background(), "subject-1")
	if err == nil || errors.Is(err, phi.ErrKeyNotFound) || !strings.HasPrefix(err.Error(), "phi/pgstore: ") {
		t.Fatalf("Get against an unreachable server: %v", err)
	}
	if strings.Contains(err.Error(), "SECRET-CANARY") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/app?sslmode=disable")
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool); err != nil {
		panic(err)
	}
	store := pgstore.New(pool, pgstore.Config{})
	_, err = store.Get(ctx, "patient-42")
	_ = errors.Is(err, phi.ErrKeyNotFound) // true on a fresh database
}

// TestGoldenRows reads rows written in schema version 1's layout.
func TestGoldenRows(t *testing.T) {
	ctx := context.Background()
	s, pool := newStore(t)
	sql, err := os.ReadFile(filepath.Join("testdata", "golden-v1.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, string(sql)); err != nil {
		t.Fatal(err)
	}
	k, err := s.Get(ctx, "patient-0001")
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != 3 || k.KEKID != "local:3f2a9c01" || !slices.Equal(k.KeyIDs, []uint32{0x1234abcd, 42}) ||
		string(k.Ciphertext) != "\x01\x02wrapped\xfe\xff" ||
		!k.Created.Equal(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)) ||
		!k.Updated.Equal(time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)) {
		t.Fatalf("golden keyset read back as %+v", k)
	}
	if _, err := s.Get(ctx, "patient-0002"); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("golden tombstone: %v, want ErrShredded", err)
	}
	if err := s.Update(ctx, keystoretest.Keyset("patient-0001", 1), 3); err != nil {
		t.Fatalf("Update of the golden keyset: %v", err)
	}
}
