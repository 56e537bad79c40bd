package pgtables_test

import (
	"context"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgtables"
	"github.com/hipaakit/hipaakit/retention/retentiontest"
)

func TestSourceListsSubjectsInBatches(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	_, err := pool.Exec(ctx, `
		CREATE TABLE encounters (id bigint PRIMARY KEY, patient_id text NOT NULL, created_at timestamptz NOT NULL, closed_at timestamptz);
		CREATE TABLE "lab results" (lab_id uuid PRIMARY KEY, patient text NOT NULL, at timestamp NOT NULL);
		INSERT INTO encounters VALUES
			(1, 'p-b', '2020-01-01Z', '2021-06-01Z'),
			(2, 'p-a', '2019-01-01Z', NULL),
			(3, 'p-b', '2018-01-01Z', NULL),
			(4, 'P-Z', '2018-01-01Z', NULL);
		INSERT INTO "lab results" VALUES
			('00000000-0000-0000-0000-000000000001', 'p-c', '2022-02-02 10:00:00'),
			('00000000-0000-0000-0000-000000000002', 'p-a', '2022-03-03 10:00:00');`)
	if err != nil {
		t.Fatal(err)
	}
	src, err := pgtables.New(pool,
		pgtables.Table{Name: "encounters", Kind: "encounter", Subject: "patient_id", ID: "id", Created: "created_at", LastInEffect: "closed_at"},
		pgtables.Table{Name: "lab results", Kind: "lab", Subject: "patient", ID: "lab_id", Created: "at"},
	)
	if err != nil {
		t.Fatal(err)
	}
	// Byte order: "P-Z" < "p-a" < "p-b" < "p-c".
	var got []retention.Subject
	after := ""
	for {
		page, err := src.Subjects(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	ids := []string{}
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	if len(got) != 4 || ids[0] != "P-Z" || ids[1] != "p-a" || ids[2] != "p-b" || ids[3] != "p-c" {
		t.Fatalf("subjects %v", ids)
	}
	pa := got[1].Records
	if len(pa) != 2 || pa[0].Kind != "encounter" || pa[0].ID != "2" || pa[1].Kind != "lab" || pa[1].ID != "00000000-0000-0000-0000-000000000002" ||
		!pa[1].Created.Equal(time.Date(2022, 3, 3, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("p-a records %+v", pa)
	}
	pb := got[2].Records
	if len(pb) != 2 || pb[0].ID != "1" || !pb[0].LastInEffect.Equal(time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)) || !pb[1].LastInEffect.IsZero() {
		t.Fatalf("p-b records %+v", pb)
	}
	// Evaluation over what the source returned.
	plan := retention.Evaluate(pb, retention.MustPolicies(retention.Policy{Kind: "encounter", Keep: retention.Period{Years: 6}}), nil, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if plan.Subjects[0].Action != retention.Keep { // 2021-06-01 + 6y > 2027-01-01
		t.Fatalf("plan %+v", plan.Subjects)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := pgtables.New(nil); err == nil {
		t.Fatal("no pool, no tables accepted")
	}
	pool := hipaakittest.Postgres(t)
	if _, err := pgtables.New(pool, pgtables.Table{Name: "t", Kind: "Bad Kind", Subject: "s", ID: "i", Created: "c"}); err == nil {
		t.Fatal("bad kind accepted")
	}
	if _, err := pgtables.New(pool, pgtables.Table{Name: "t", Kind: "k", Subject: "s", ID: "i"}); err == nil {
		t.Fatal("missing column accepted")
	}
}

// Hostile table and column names are quoted identifiers, never SQL.
func TestSourceQuotesIdentifiers(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE victim (x int);
		CREATE TABLE "a""; DROP TABLE victim; --" ("subj""ect" text, "i d" int, "c'reated" timestamptz);
		INSERT INTO "a""; DROP TABLE victim; --" VALUES ('patient-1', 1, '2020-01-01Z')`); err != nil {
		t.Fatal(err)
	}
	src, err := pgtables.New(pool, pgtables.Table{Name: `a"; DROP TABLE victim; --`, Kind: "encounter", Subject: `subj"ect`, ID: "i d", Created: "c'reated"})
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := src.Subjects(ctx, "", 10)
	if err != nil || len(subjects) != 1 || subjects[0].ID != "patient-1" || subjects[0].Records[0].ID != "1" {
		t.Fatalf("%+v %v", subjects, err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM victim").Scan(&n); err != nil {
		t.Fatalf("victim table gone: %v", err)
	}
}

func TestSourceConformance(t *testing.T) {
	retentiontest.Source(t, func(t *testing.T, subjects []retention.Subject) retention.Source {
		ctx := context.Background()
		pool := hipaakittest.Postgres(t)
		if _, err := pool.Exec(ctx, `CREATE TABLE encounters (id bigint PRIMARY KEY, patient_id text NOT NULL, created_at timestamptz NOT NULL, closed_at timestamptz)`); err != nil {
			t.Fatal(err)
		}
		for _, s := range subjects {
			for _, r := range s.Records {
				var lie any
				if !r.LastInEffect.IsZero() {
					lie = r.LastInEffect
				}
				if _, err := pool.Exec(ctx, `INSERT INTO encounters VALUES ($1::text::bigint, $2, $3, $4)`, r.ID, s.ID, r.Created, lie); err != nil {
					t.Fatal(err)
				}
			}
		}
		src, err := pgtables.New(pool, pgtables.Table{Name: "encounters", Kind: "encounter", Subject: "patient_id", ID: "id", Created: "created_at", LastInEffect: "closed_at"})
		if err != nil {
			t.Fatal(err)
		}
		return src
	})
}
