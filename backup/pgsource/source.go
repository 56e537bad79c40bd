package pgsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/backup"
)

// Entry paths.
const (
	preDataPath  = "schema.sql"
	postDataPath = "post-data.sql"
	routinesPath = "routines.sql" // functions and triggers (FORMAT.md)
	tablePrefix  = "tables/"
	seqPrefix    = "sequences/"
)

// Source backs up the tables of one PostgreSQL schema.
type Source struct {
	Pool   *pgxpool.Pool
	Schema string
	// Tables limits the backup to these tables; empty means every table of
	// the schema. A named table that does not exist is an error. A
	// partitioned table brings all its partitions; naming a partition alone
	// is refused (its rows are backed up through its partitioned table).
	Tables []string
	// SkipRows names tables whose structure is backed up but not their
	// rows (a restore creates them empty): for example a key table that is
	// backed up apart, through the disposal ledger (backup.KeyStoreSource),
	// or run-time state such as leases. Each must be a table of the backup
	// that is not a partition. The names are recorded in the manifest.
	SkipRows []string
	// Snapshot, when held, is the moment Walk reads (see Snapshot); nil or
	// not held, Walk reads a snapshot of its own.
	Snapshot *Snapshot
}

var _ backup.Source = Source{}

// Info implements backup.Source.
func (s Source) Info() backup.SourceInfo {
	return backup.SourceInfo{Kind: "postgres", Name: s.Schema}
}

// Walk implements backup.Source: one snapshot, DDL first, then sequences,
// then each table's COPY stream, then the post-data DDL, then the functions
// and triggers.
func (s Source) Walk(ctx context.Context, emit func(backup.Item) error) error {
	if s.Pool == nil || s.Schema == "" {
		return errors.New("backup/pgsource: Source needs a pool and a schema")
	}
	tx, err := s.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return pgFail("begin snapshot", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := importSnapshot(ctx, tx, s.Snapshot); err != nil {
		return err
	}
	if err := pinSession(ctx, tx, s.Schema); err != nil {
		return err
	}
	d, err := describe(ctx, tx, s.Schema, s.Tables)
	if err != nil {
		return err
	}
	skip, err := skipRows(d, s.SkipRows)
	if err != nil {
		return err
	}
	var preMeta map[string]string
	if len(skip) > 0 {
		preMeta = map[string]string{skipRowsMeta: strings.Join(slices.Sorted(maps.Keys(skip)), ",")}
	}
	if err := emit(backup.Item{Path: preDataPath, Type: backup.EntrySchema, Mode: 0o600, Meta: preMeta, Body: strings.NewReader(d.preData)}); err != nil {
		return err
	}
	for _, q := range d.sequences {
		var last int64
		var called bool
		if err := tx.QueryRow(ctx, "SELECT last_value, is_called FROM "+pgx.Identifier{s.Schema, q.name}.Sanitize()).Scan(&last, &called); err != nil {
			return pgFail("read sequence", err)
		}
		meta := map[string]string{"sequence": q.name}
		if q.identTable != "" {
			meta["identity_table"], meta["identity_column"] = q.identTable, q.identColumn
		}
		body := strconv.FormatInt(last, 10) + " " + strconv.FormatBool(called) + "\n"
		if err := emit(backup.Item{Path: seqPrefix + url.PathEscape(q.name), Type: backup.EntrySequence, Mode: 0o600,
			Meta: meta, Body: strings.NewReader(body)}); err != nil {
			return err
		}
	}
	conn := tx.Conn().PgConn()
	for _, t := range d.tables {
		if skip[t.name] {
			continue
		}
		pr, pw := io.Pipe()
		var rows int64
		var copyErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			tag, err := conn.CopyTo(ctx, pw, t.copyOut(s.Schema))
			rows = tag.RowsAffected()
			if err != nil {
				copyErr = pgFail("copy table", err)
			}
			pw.CloseWithError(copyErr)
		}()
		err := emit(backup.Item{Path: tablePrefix + url.PathEscape(t.name), Type: backup.EntryTable, Mode: 0o600,
			Meta: map[string]string{"table": t.name}, Body: pr, Rows: func() int64 { <-done; return rows }})
		pr.CloseWithError(errors.New("backup/pgsource: consumer stopped"))
		<-done
		if err == nil {
			err = copyErr
		}
		if err != nil {
			return err
		}
	}
	if err := emit(backup.Item{Path: postDataPath, Type: backup.EntrySchema, Mode: 0o600, Body: strings.NewReader(d.postData)}); err != nil {
		return err
	}
	// Functions and triggers come last: no trigger fires while the rows
	// are restored.
	if err := emit(backup.Item{Path: routinesPath, Type: backup.EntrySchema, Mode: 0o600, Body: strings.NewReader(d.routines)}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// skipRowsMeta is the schema.sql entry's Meta key that lists the tables
// whose rows were not backed up (Source.SkipRows), comma-separated.
const skipRowsMeta = "rows_skipped"

// skipRows checks names against the tables of d whose rows a backup holds.
func skipRows(d *description, names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	have := map[string]bool{}
	for _, t := range d.tables {
		have[t.name] = true
	}
	skip := map[string]bool{}
	for _, n := range names {
		if !have[n] || strings.Contains(n, ",") {
			return nil, fmt.Errorf("backup/pgsource: SkipRows: %q is not a table of the backup (or is a partition)", n)
		}
		skip[n] = true
	}
	return skip, nil
}
