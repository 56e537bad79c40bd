package pgsource

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// description is what a schema backup needs to know about a schema.
type description struct {
	tables    []tableData // the tables whose rows are backed up (no partitions)
	sequences []sequence
	preData   string // enum types, sequences, tables with their columns
	postData  string // constraints, indexes, sequence ownership
	routines  string // functions, then triggers (routines.sql)
}

type sequence struct {
	name                    string
	identTable, identColumn string // set for identity sequences
}

func qi(name string) string { return pgx.Identifier{name}.Sanitize() }

func ql(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// describe reads the schema's catalog inside tx (whose search_path is the
// schema, so that catalog functions print its names unqualified) and
// generates the DDL that recreates it in any schema.
func describe(ctx context.Context, tx pgx.Tx, schema string, only []string) (*description, error) {
	fail := func(what string, err error) (*description, error) {
		return nil, pgFail("read "+what, err)
	}
	var d description
	var pre, post strings.Builder

	tables, err := listTables(ctx, tx, schema, only)
	if err != nil {
		return nil, err
	}

	// Enum types.
	rows, err := tx.Query(ctx, `SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
		FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = $1 GROUP BY t.typname ORDER BY t.typname`, schema)
	if err != nil {
		return fail("types", err)
	}
	for rows.Next() {
		var name string
		var labels []string
		if err := rows.Scan(&name, &labels); err != nil {
			return fail("types", err)
		}
		for i := range labels {
			labels[i] = ql(labels[i])
		}
		fmt.Fprintf(&pre, "CREATE TYPE %s AS ENUM (%s);\n", qi(name), strings.Join(labels, ", "))
	}
	if err := rows.Err(); err != nil {
		return fail("types", err)
	}

	// Sequences: plain ones are created by name; identity ones come with
	// their column. Ownership (serial columns) goes to post-data.
	rows, err = tx.Query(ctx, `SELECT c.relname, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax,
			s.seqstart, s.seqcache, s.seqcycle, coalesce(dep.deptype::text, ''), coalesce(tc.relname, ''), coalesce(a.attname, '')
		FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
			AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
		LEFT JOIN pg_class tc ON tc.oid = dep.refobjid
		LEFT JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
		WHERE n.nspname = $1 ORDER BY c.relname`, schema)
	if err != nil {
		return fail("sequences", err)
	}
	inBackup := map[string]bool{}
	for _, t := range tables {
		inBackup[t.name] = true
	}
	for rows.Next() {
		var name, typ, dep, tname, col string
		var inc, mn, mx, start, cache int64
		var cycle bool
		if err := rows.Scan(&name, &typ, &inc, &mn, &mx, &start, &cache, &cycle, &dep, &tname, &col); err != nil {
			return fail("sequences", err)
		}
		if tname != "" && !inBackup[tname] {
			continue // belongs to a table not in this backup
		}
		q := sequence{name: name}
		if dep == "i" {
			q.identTable, q.identColumn = tname, col
		} else {
			cyc := "NO CYCLE"
			if cycle {
				cyc = "CYCLE"
			}
			fmt.Fprintf(&pre, "CREATE SEQUENCE %s AS %s INCREMENT %d MINVALUE %d MAXVALUE %d START %d CACHE %d %s;\n",
				qi(name), typ, inc, mn, mx, start, cache, cyc)
			if dep == "a" {
				fmt.Fprintf(&post, "ALTER SEQUENCE %s OWNED BY %s.%s;\n", qi(name), qi(tname), qi(col))
			}
		}
		d.sequences = append(d.sequences, q)
	}
	if err := rows.Err(); err != nil {
		return fail("sequences", err)
	}

	// pg_get_indexdef always qualifies the table with its schema; strip it
	// so that the DDL applies to whatever schema it is replayed into.
	var qs string
	if err := tx.QueryRow(ctx, "SELECT quote_ident($1)", schema).Scan(&qs); err != nil {
		return fail("schema", err)
	}
	var fks strings.Builder // foreign keys last: every referenced key exists by then
	for _, t := range tables {
		cols, err := describeTable(ctx, tx, t, qs, &pre, &post, &fks)
		if err != nil {
			return nil, err
		}
		if t.parent == "" {
			d.tables = append(d.tables, tableData{name: t.name, partitioned: t.kind == "p", cols: cols})
		}
	}
	d.preData, d.postData = pre.String(), post.String()+fks.String()
	if d.routines, err = describeRoutines(ctx, tx, schema, qs, inBackup); err != nil {
		return nil, err
	}
	return &d, nil
}

// describeTable writes t's DDL and returns its quoted non-generated columns
// (those COPY carries), in column order.
func describeTable(ctx context.Context, tx pgx.Tx, t table, quotedSchema string, pre, post, fks *strings.Builder) ([]string, error) {
	fail := func(what string, err error) ([]string, error) { return nil, pgFail("read "+what, err) }
	oid, name := t.oid, t.name
	rows, err := tx.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
			coalesce((SELECT quote_ident(cl.collname) FROM pg_collation cl
				WHERE cl.oid = a.attcollation AND a.attcollation <> t.typcollation), '')
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
	if err != nil {
		return fail("columns", err)
	}
	var cols, copyCols []string
	for rows.Next() {
		var col, typ, def, ident, gen, coll string
		var notNull bool
		if err := rows.Scan(&col, &typ, &notNull, &def, &ident, &gen, &coll); err != nil {
			return fail("columns", err)
		}
		if gen != "s" {
			copyCols = append(copyCols, qi(col))
		}
		c := qi(col) + " " + typ
		if coll != "" {
			c += " COLLATE " + coll
		}
		switch {
		case gen == "s":
			c += " GENERATED ALWAYS AS (" + def + ") STORED"
		case ident == "a":
			c += " GENERATED ALWAYS AS IDENTITY"
		case ident == "d":
			c += " GENERATED BY DEFAULT AS IDENTITY"
		case def != "":
			c += " DEFAULT " + def
		}
		if notNull {
			c += " NOT NULL"
		}
		cols = append(cols, "  "+c)
	}
	if err := rows.Err(); err != nil {
		return fail("columns", err)
	}
	partBy := ""
	if t.kind == "p" {
		partBy = " PARTITION BY " + t.partKey
	}
	if t.parent != "" {
		// A partition takes its columns from its parent; its rows are
		// backed up and restored through the parent.
		fmt.Fprintf(pre, "CREATE TABLE %s PARTITION OF %s %s%s;\n", qi(name), qi(t.parent), t.bound, partBy)
	} else {
		fmt.Fprintf(pre, "CREATE TABLE %s (\n%s\n)%s;\n", qi(name), strings.Join(cols, ",\n"), partBy)
	}

	// A partition's constraints and indexes inherited from its parent are
	// recreated by the parent's (ADD CONSTRAINT and CREATE INDEX on a
	// partitioned table cascade to its partitions).
	rows, err = tx.Query(ctx, `SELECT conname, pg_get_constraintdef(oid), contype = 'f' FROM pg_constraint
		WHERE conrelid = $1 AND contype IN ('p', 'u', 'c', 'x', 'f') AND (NOT $2 OR (conislocal AND conparentid = 0))
		ORDER BY conname`, oid, t.parent != "")
	if err != nil {
		return fail("constraints", err)
	}
	for rows.Next() {
		var cn, def string
		var fk bool
		if err := rows.Scan(&cn, &def, &fk); err != nil {
			return fail("constraints", err)
		}
		w := post
		if fk {
			w = fks
		}
		fmt.Fprintf(w, "ALTER TABLE %s ADD CONSTRAINT %s %s;\n", qi(name), qi(cn), def)
	}
	if err := rows.Err(); err != nil {
		return fail("constraints", err)
	}

	rows, err = tx.Query(ctx, `SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
		WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint c
			WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
		AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)`, oid)
	if err != nil {
		return fail("indexes", err)
	}
	var idx []string
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			return fail("indexes", err)
		}
		// ON ONLY (a partitioned table's index) would not cascade to the
		// partitions: the restore builds the index on them too.
		def = strings.Replace(def, " ON ONLY "+quotedSchema+".", " ON ", 1)
		def = strings.Replace(def, " ON "+quotedSchema+".", " ON ", 1)
		idx = append(idx, def+";\n")
	}
	if err := rows.Err(); err != nil {
		return fail("indexes", err)
	}
	sort.Strings(idx)
	for _, s := range idx {
		post.WriteString(s)
	}
	return copyCols, nil
}
