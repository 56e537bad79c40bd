package pgtables

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/retention"
)

// Table maps one table to retention records.
type Table struct {
	// Name is the table, optionally schema-qualified ("clinic.encounters").
	Name string
	// Kind is the record kind of every row (see retention.ValidKind).
	Kind string
	// Subject, ID and Created are the columns holding the subject ID, the
	// record ID and the creation time (timestamptz or timestamp, read as
	// UTC). They are cast to text (Subject, ID) as needed.
	Subject, ID, Created string
	// LastInEffect is an optional timestamptz column; NULL means none.
	LastInEffect string
}

// Source lists subjects and records from the configured tables.
type Source struct {
	pool   *pgxpool.Pool
	tables []Table
	query  string
}

var _ retention.Source = (*Source)(nil)

// New checks the tables and returns a Source.
func New(pool *pgxpool.Pool, tables ...Table) (*Source, error) {
	if pool == nil || len(tables) == 0 {
		return nil, errors.New("retention/pgtables: New needs a pool and at least one table")
	}
	for i, t := range tables {
		if t.Name == "" || t.Subject == "" || t.ID == "" || t.Created == "" {
			return nil, fmt.Errorf("retention/pgtables: table %d: Name, Subject, ID and Created are required", i+1)
		}
		if !retention.ValidKind(t.Kind) {
			return nil, fmt.Errorf("retention/pgtables: table %d: invalid kind", i+1)
		}
	}
	return &Source{pool: pool, tables: tables, query: buildQuery(tables)}, nil
}

func ident(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// buildQuery returns the statement listing a batch: $1 is the cursor, $2 the
// batch size, $3... the kinds of the tables in order.
func buildQuery(tables []Table) string {
	var subjects, records []string
	for i, t := range tables {
		subj := "(" + pgx.Identifier{t.Subject}.Sanitize() + `::text COLLATE "C")`
		subjects = append(subjects, "SELECT "+subj+" AS subject FROM "+ident(t.Name)+" WHERE "+subj+" > $1")
		lie := "NULL::timestamptz"
		if t.LastInEffect != "" {
			lie = pgx.Identifier{t.LastInEffect}.Sanitize() + "::timestamptz"
		}
		records = append(records, "SELECT "+subj+" AS subject, "+pgx.Identifier{t.ID}.Sanitize()+"::text AS id, $"+strconv.Itoa(i+3)+
			"::text AS kind, "+pgx.Identifier{t.Created}.Sanitize()+"::timestamptz AS created, "+lie+" AS last_in_effect FROM "+ident(t.Name)+
			" WHERE "+subj+" IN (SELECT subject FROM batch)")
	}
	return "WITH batch AS (SELECT DISTINCT subject FROM (" + strings.Join(subjects, " UNION ") + `) u ORDER BY subject LIMIT $2)
SELECT subject, id, kind, created, last_in_effect FROM (` + strings.Join(records, " UNION ALL ") + `) r ORDER BY subject COLLATE "C", kind, id`
}

// Subjects implements retention.Source.
func (s *Source) Subjects(ctx context.Context, after string, limit int) ([]retention.Subject, error) {
	if limit <= 0 {
		return nil, errors.New("retention/pgtables: limit must be positive")
	}
	args := []any{after, limit}
	for _, t := range s.tables {
		args = append(args, t.Kind)
	}
	rows, err := s.pool.Query(ctx, s.query, args...)
	if err != nil {
		return nil, fmt.Errorf("retention/pgtables: list subjects: %w", err)
	}
	defer rows.Close()
	var out []retention.Subject
	for rows.Next() {
		var (
			subject, id, kind string
			created           *time.Time
			lie               *time.Time
		)
		if err := rows.Scan(&subject, &id, &kind, &created, &lie); err != nil {
			return nil, fmt.Errorf("retention/pgtables: read row: %w", err)
		}
		r := retention.Record{ID: id, Kind: kind, Subject: subject}
		if created != nil {
			r.Created = created.UTC()
		}
		if lie != nil {
			r.LastInEffect = lie.UTC()
		}
		if n := len(out); n == 0 || out[n-1].ID != subject {
			out = append(out, retention.Subject{ID: subject})
		}
		out[len(out)-1].Records = append(out[len(out)-1].Records, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention/pgtables: list subjects: %w", err)
	}
	return out, nil
}
