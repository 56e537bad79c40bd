package pgsource_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// PostgreSQL table backup throughput in rows/s (issue 6, item 11), beside
// its baseline: the same COPY stream, SHA-256 and AES-256-GCM chunk by chunk
// into reused buffers.

const benchRows = 200000

func benchTable(b *testing.B) (*pgxpool.Pool, string) {
	pool, schema := hipaakittest.PostgresSchema(b)
	_, err := pool.Exec(context.Background(), `CREATE TABLE visits (id bigint PRIMARY KEY, mrn text, note text, created timestamptz);
		INSERT INTO visits SELECT g, 'MRN-' || g, repeat('note ', 10), now() FROM generate_series(1, `+strconv.Itoa(benchRows)+`) g`)
	if err != nil {
		b.Fatal(err)
	}
	return pool, schema
}

// chunker hashes and seals whatever is written to it in chunks.
type chunker struct {
	buf, out, nonce []byte
	n               int
	gcm             cipher.AEAD
	sum             [32]byte
}

func (c *chunker) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		k := copy(c.buf[c.n:], p)
		c.n += k
		p = p[k:]
		if c.n == len(c.buf) {
			c.flush()
		}
	}
	return total, nil
}

func (c *chunker) flush() {
	h := sha256.Sum256(c.buf[:c.n])
	c.sum = h
	rand.Read(c.nonce)
	c.out = c.gcm.Seal(c.out[:0], c.nonce, c.buf[:c.n], c.sum[:])
	c.n = 0
}

func BenchmarkPostgresBaseline(b *testing.B) {
	pool, schema := benchTable(b)
	block, _ := aes.NewCipher(make([]byte, 32))
	gcm, _ := cipher.NewGCM(block)
	c := &chunker{buf: make([]byte, backup.DefaultChunkSize), out: make([]byte, 0, backup.DefaultChunkSize+16), nonce: make([]byte, 12), gcm: gcm}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Conn().PgConn().CopyTo(ctx, c, "COPY "+pgx.Identifier{schema, "visits"}.Sanitize()+" TO STDOUT"); err != nil {
			b.Fatal(err)
		}
		c.flush()
		tx.Rollback(ctx)
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkPostgresBackup(b *testing.B) {
	pool, schema := benchTable(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "repo")
		tg, _ := backup.NewDirTarget(root)
		repo, err := backup.Init(ctx, tg, benchKEK(b), backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		m, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if e := m.Entries[1]; e.Type != backup.EntryTable || e.Rows != benchRows {
			b.Fatalf("backed up %+v", e)
		}
		os.RemoveAll(root)
		b.StartTimer()
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
