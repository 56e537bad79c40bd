package pgaudit_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
)

// Filter values that look like SQL or LIKE patterns match only records
// holding exactly that text.
var hostile = []string{"%", "_", "a%", "a_c", "abc", "ABC", "' OR '1'='1", `'); DROP TABLE hipaakit_audit_records; --`,
	`\`, `$1`, "a\u00e9", "e\u0301", "x\x00y", "x\uFFFDy"}

func TestSearchHostileValuesMatchLiterally(t *testing.T) {
	pool := setup(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: newKey(t)})
	for i, h := range hostile {
		e := ev(i, h)
		e.Actor.UserID = "actor-" + h
		if err := w.Write(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	store := pgaudit.NewStore(pool)
	for _, h := range hostile {
		for _, f := range []audit.Filter{{Subject: h}, {ActorID: "actor-" + h}, {RecordType: "patient", RecordID: "r-" + h}} {
			if strings.IndexByte(h, 0) >= 0 {
				// NUL cannot be a filter value; it fails validation.
				if _, err := audit.Query(context.Background(), store, f); !errors.Is(err, audit.ErrInvalidFilter) {
					t.Fatalf("NUL filter: %v", err)
				}
				continue
			}
			p, err := audit.Query(context.Background(), store, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Records) != 1 || p.Records[0].Event.Target.Subject != h {
				t.Fatalf("filter %q matched %d records", h, len(p.Records))
			}
		}
	}
	// The table is still there.
	if p, err := audit.Query(context.Background(), store, audit.Filter{}); err != nil || len(p.Records) != len(hostile) {
		t.Fatalf("%d %v", len(p.Records), err)
	}
}

func TestExportFromStore(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key})
	for i := range 30 {
		if err := w.Write(context.Background(), ev(i, "p")); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	n, err := audit.Export(context.Background(), &buf, pgaudit.NewStore(pool), audit.Filter{Stream: "api-1"}, audit.ExportJSONL)
	if err != nil || n != 30 {
		t.Fatalf("%d %v", n, err)
	}
	v := audit.NewVerifier(audit.VerifyOptions{})
	for line := range bytes.Lines(buf.Bytes()) {
		if err := v.Line(line); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Finish(); err != nil {
		t.Fatal(err)
	}
}

// tamper runs stmt with the append-only triggers disabled, as only a
// table owner could.
func tamper(t *testing.T, pool *pgxpool.Pool, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "SET session_replication_role = origin")
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestVerifyNamesFirstBadRecord(t *testing.T) {
	cases := []struct {
		name    string
		stmts   []string
		seq     uint64
		problem audit.Problem
	}{
		{"modified", []string{`UPDATE hipaakit_audit_records SET line = convert_to(replace(convert_from(line, 'UTF8'), 'nurse', 'admin'), 'UTF8') WHERE seq = 7`}, 7, audit.ProblemModified},
		{"deleted", []string{`DELETE FROM hipaakit_audit_records WHERE seq = 5`}, 5, audit.ProblemDeleted},
		{"truncated before a checkpoint", []string{`DELETE FROM hipaakit_audit_records WHERE seq >= 19`}, 19, audit.ProblemDeleted},
		{"truncated after the last checkpoint", []string{`DELETE FROM hipaakit_audit_records WHERE seq >= 19`,
			`DELETE FROM hipaakit_audit_checkpoints WHERE seq >= 19`}, 19, audit.ProblemTruncated},
		{"inserted", []string{`INSERT INTO hipaakit_audit_records SELECT stream, seq + 100, logged_at, time_s, time_n, action, outcome,
			subject, actor_id, record_type, record_id, hash, line FROM hipaakit_audit_records WHERE seq = 20`}, 20, audit.ProblemDuplicated},
		{"deleted head", []string{`DELETE FROM hipaakit_audit_records WHERE seq <= 3`}, 4, audit.ProblemAnchor},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pool := setup(t)
			key := newKey(t)
			w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key, CheckpointEvery: 1000})
			for i := range 20 {
				if err := w.Write(context.Background(), ev(i, "p")); err != nil {
					t.Fatal(err)
				}
			}
			w.Close(context.Background())
			verify(t, pool, key)
			tamper(t, pool, c.stmts...)
			_, err := pgaudit.NewStore(pool).Verify(context.Background(), audit.VerifyOptions{Keys: mustKeySet(t, pub(key))})
			var ve *audit.VerifyError
			if !errors.As(err, &ve) || ve.Stream != "api-1" || ve.Seq != c.seq || ve.Problem != c.problem {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// Query asks a Searcher for one record more than its page; at the largest
// page size the store must accept that (it once answered 500 there).
func TestQueryAtMaxPageSize(t *testing.T) {
	pool := setup(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: newKey(t)})
	for i := range 3 {
		if err := w.Write(context.Background(), ev(i, "p")); err != nil {
			t.Fatal(err)
		}
	}
	page, err := audit.Query(context.Background(), pgaudit.NewStore(pool), audit.Filter{Limit: audit.MaxPageSize})
	if err != nil || len(page.Records) != 3 || !page.Next.IsZero() {
		t.Fatalf("Query at MaxPageSize: %d records, next %v, %v", len(page.Records), page.Next, err)
	}
	f := audit.Filter{Limit: audit.MaxSearchLimit}
	if f.Validate() == nil || f.ValidateSearch() != nil {
		t.Fatal("Validate and ValidateSearch bound Limit wrongly")
	}
}
