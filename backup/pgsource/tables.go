package pgsource

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// table is one table of the schema as the catalog describes it.
type table struct {
	oid     uint32
	name    string
	kind    string // "r" (ordinary) or "p" (partitioned)
	parent  string // for a partition: its parent, in the same schema
	bound   string // for a partition: "FOR VALUES …" or "DEFAULT"
	partKey string // for a partitioned table: "RANGE (col)", …
	depth   int    // 0 for a table that is not a partition
}

// tableData is a table whose rows are backed up: an ordinary table that is
// not a partition, or a partitioned table (whose rows, read through it,
// include every partition's: the partitions are never backed up on their
// own, so no row is counted twice, and restoring into the parent routes
// each row to its partition).
type tableData struct {
	name        string
	partitioned bool
	cols        []string // quoted columns COPY carries (not the generated ones)
}

// copyOut returns the COPY … TO STDOUT statement that reads the table's
// rows in schema. COPY cannot read a partitioned table by name; a query
// over it yields the same text format.
func (t tableData) copyOut(schema string) string {
	rel := pgx.Identifier{schema, t.name}.Sanitize()
	if t.partitioned {
		return "COPY (SELECT " + strings.Join(t.cols, ", ") + " FROM " + rel + ") TO STDOUT"
	}
	return "COPY " + rel + " TO STDOUT"
}

// sessionSettings are pinned, as pg_dump pins them, in every transaction
// that reads or writes COPY text, whatever the role, database or connection
// set: they change how dates, times, intervals and floats are printed and
// parsed.
var sessionSettings = [][2]string{
	{"DateStyle", "ISO"},
	{"IntervalStyle", "postgres"},
	{"TimeZone", "UTC"},
	{"extra_float_digits", "3"},
}

// pinSession sets search_path to schema (catalog functions then print its
// names unqualified, so the DDL replays into any schema) and the session
// settings, for the rest of tx only (set_config with is_local): a pooled
// connection that is reused, or that carries other settings, cannot change
// them.
func pinSession(ctx context.Context, tx pgx.Tx, schema string) error {
	q := "SELECT set_config('search_path', $1, true)"
	for _, kv := range sessionSettings {
		q += ", set_config(" + ql(kv[0]) + ", " + ql(kv[1]) + ", true)"
	}
	if _, err := tx.Exec(ctx, q, qi(schema)); err != nil {
		return pgFail("pin session settings", err)
	}
	return nil
}

// listTables returns the tables to describe: those of only (every table of
// the schema when empty) and all their partitions, each parent before its
// partitions. Anything it cannot back up is refused with an error naming
// the table.
func listTables(ctx context.Context, tx pgx.Tx, schema string, only []string) ([]table, error) {
	rows, err := tx.Query(ctx, `SELECT c.oid, c.relname, c.relkind::text, coalesce(pc.relname, ''),
			coalesce(pn.nspname, ''), coalesce(pg_get_expr(c.relpartbound, c.oid), ''),
			CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
		LEFT JOIN pg_class pc ON pc.oid = i.inhparent
		LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`, schema)
	if err != nil {
		return nil, pgFail("read tables", err)
	}
	all := map[string]*table{}
	var names []string
	for rows.Next() {
		var t table
		var parentSchema string
		if err := rows.Scan(&t.oid, &t.name, &t.kind, &t.parent, &parentSchema, &t.bound, &t.partKey); err != nil {
			return nil, pgFail("read tables", err)
		}
		if t.parent != "" && parentSchema != schema {
			rows.Close()
			return nil, fmt.Errorf("backup/pgsource: table %q is a partition of a table in another schema", t.name)
		}
		all[t.name] = &t
		names = append(names, t.name)
	}
	if err := rows.Err(); err != nil {
		return nil, pgFail("read tables", err)
	}

	// Partitions the schema cannot hold: in another schema, or foreign.
	rows, err = tx.Query(ctx, `SELECT p.relname, c.relname FROM pg_inherits i
		JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
		WHERE pn.nspname = $1 AND p.relkind = 'p' AND (cn.nspname <> $1 OR c.relkind NOT IN ('r', 'p'))
		ORDER BY p.relname, c.relname`, schema)
	if err != nil {
		return nil, pgFail("read partitions", err)
	}
	foreign := map[string]string{}
	for rows.Next() {
		var p, c string
		if err := rows.Scan(&p, &c); err != nil {
			return nil, pgFail("read partitions", err)
		}
		if _, ok := foreign[p]; !ok {
			foreign[p] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, pgFail("read partitions", err)
	}

	root := func(t *table) *table {
		for t.parent != "" {
			p, ok := all[t.parent]
			if !ok {
				return t
			}
			t = p
		}
		return t
	}
	for _, t := range all {
		for p := t; p.parent != ""; p = all[p.parent] {
			t.depth++
		}
	}
	selected := map[string]bool{}
	if len(only) == 0 {
		for _, n := range names {
			selected[n] = true
		}
	} else {
		var missing int
		for _, n := range only {
			t, ok := all[n]
			switch {
			case !ok:
				missing++
			case t.parent != "":
				return nil, fmt.Errorf("backup/pgsource: table %q is a partition of %q: back up %q, whose rows include its partitions'",
					n, root(t).name, root(t).name)
			default:
				selected[n] = true
			}
		}
		if missing > 0 {
			return nil, fmt.Errorf("backup/pgsource: %d requested table(s) not found in the schema", missing)
		}
		for _, n := range names {
			if selected[root(all[n]).name] {
				selected[n] = true
			}
		}
	}
	var out []table
	for _, n := range names {
		if !selected[n] {
			continue
		}
		if c, ok := foreign[n]; ok {
			return nil, fmt.Errorf("backup/pgsource: partitioned table %q has partition %q in another schema or not a table", n, c)
		}
		out = append(out, *all[n])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].depth < out[j].depth })
	return out, nil
}
