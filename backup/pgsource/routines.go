package pgsource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrUnsupportedObject is returned (wrapped in an *ObjectError) when the
// schema holds a function or trigger that a restore could not recreate
// faithfully; the backup is refused rather than made incomplete.
var ErrUnsupportedObject = errors.New("backup/pgsource: object cannot be backed up faithfully")

// ObjectError names the function or trigger a backup refused, and why.
type ObjectError struct {
	Kind   string // "function" or "trigger"
	Name   string // the function's identity signature, or "table.trigger"
	Reason string
}

func (e *ObjectError) Error() string {
	return "backup/pgsource: " + e.Kind + " " + e.Name + " cannot be backed up faithfully: " + e.Reason
}

// Unwrap returns ErrUnsupportedObject.
func (e *ObjectError) Unwrap() error { return ErrUnsupportedObject }

// routineLanguages are the languages whose functions are restored: their
// definition is text the server regenerates (pg_get_functiondef).
var routineLanguages = map[string]bool{"plpgsql": true, "sql": true}

// describeRoutines generates the DDL of the schema's functions and of the
// triggers on the tables in inBackup: every function first (sorted by
// signature), then every trigger (sorted by table and name). A function
// whose search_path is its own schema ("SET search_path FROM CURRENT" in
// the audit/pgaudit migrations) is written with "SET search_path FROM
// CURRENT", which the restore pins to the destination schema (fixSearchPath):
// the DDL is the same whatever the schema's name.
func describeRoutines(ctx context.Context, tx pgx.Tx, schema, quotedSchema string, inBackup map[string]bool) (string, error) {
	var b strings.Builder
	rows, err := tx.Query(ctx, `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', coalesce(l.lanname, ''),
			p.prokind::text, CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) ELSE '' END,
			coalesce(p.proconfig, '{}'), EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
				AND d.objid = p.oid AND d.deptype = 'e')
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace LEFT JOIN pg_language l ON l.oid = p.prolang
		WHERE n.nspname = $1 ORDER BY 1`, schema)
	if err != nil {
		return "", pgFail("read functions", err)
	}
	for rows.Next() {
		var sig, lang, kind, def string
		var config []string
		var ext bool
		if err := rows.Scan(&sig, &lang, &kind, &def, &config, &ext); err != nil {
			return "", pgFail("read functions", err)
		}
		fdef, err := functionDDL(sig, lang, kind, def, config, ext, schema, quotedSchema)
		if err != nil {
			rows.Close()
			return "", err
		}
		b.WriteString(fdef)
	}
	if err := rows.Err(); err != nil {
		return "", pgFail("read functions", err)
	}

	rows, err = tx.Query(ctx, `SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid, true), t.tgenabled::text, fn.nspname = $1
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_proc f ON f.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = f.pronamespace
		WHERE n.nspname = $1 AND NOT t.tgisinternal AND t.tgparentid = 0 ORDER BY c.relname, t.tgname`, schema)
	if err != nil {
		return "", pgFail("read triggers", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rel, name, def, enabled string
		var ownFunc bool
		if err := rows.Scan(&rel, &name, &def, &enabled, &ownFunc); err != nil {
			return "", pgFail("read triggers", err)
		}
		if !inBackup[rel] {
			continue // on a table not in this backup
		}
		refuse := func(reason string) (string, error) {
			return "", &ObjectError{Kind: "trigger", Name: rel + "." + name, Reason: reason}
		}
		switch {
		case !ownFunc:
			return refuse("its function is in another schema")
		case enabled != "O" && enabled != "D":
			return refuse("it fires only on replicas or always (session_replication_role)")
		case strings.Contains(def, quotedSchema+"."):
			return refuse("its definition names the schema")
		}
		b.WriteString(def + ";\n")
		if enabled == "D" {
			fmt.Fprintf(&b, "ALTER TABLE %s DISABLE TRIGGER %s;\n", qi(rel), qi(name))
		}
	}
	if err := rows.Err(); err != nil {
		return "", pgFail("read triggers", err)
	}
	return b.String(), nil
}

// functionDDL returns the CREATE statement of one function, unqualified,
// or an *ObjectError when it cannot be restored faithfully.
func functionDDL(sig, lang, kind, def string, config []string, ext bool, schema, quotedSchema string) (string, error) {
	refuse := func(reason string) (string, error) {
		return "", &ObjectError{Kind: "function", Name: sig, Reason: reason}
	}
	if ext {
		return refuse("it belongs to an extension")
	}
	if kind != "f" && kind != "p" {
		return refuse("aggregates and window functions are not backed up")
	}
	if !routineLanguages[lang] {
		return refuse("its language is " + quoteName(lang) + " (only plpgsql and sql are backed up)")
	}
	word := "FUNCTION"
	if kind == "p" {
		word = "PROCEDURE"
	}
	head := "CREATE OR REPLACE " + word + " " + quotedSchema + "."
	body, ok := strings.CutPrefix(def, head)
	if !ok {
		return refuse("its definition does not start with its schema-qualified name")
	}
	for _, c := range config {
		name, value, _ := strings.Cut(c, "=")
		if name != "search_path" {
			continue
		}
		if value != schema && value != qi(schema) {
			return refuse("its search_path is not its own schema alone")
		}
		own := "\n SET search_path TO " + ql(schema) + "\n"
		if !strings.Contains(body, own) {
			return refuse("its search_path clause is not in the expected form")
		}
		body = strings.Replace(body, own, "\n SET search_path FROM CURRENT\n", 1)
	}
	if strings.Contains(body, quotedSchema+".") || (quotedSchema != schema && strings.Contains(body, schema+".")) {
		return refuse("its definition names the schema")
	}
	return "CREATE " + word + " " + strings.TrimRight(body, "\n") + ";\n", nil
}

// quoteName renders a catalog name for an error message.
func quoteName(s string) string { return fmt.Sprintf("%q", s) }

// fixSearchPath pins, inside tx and after the staging schema took the name
// schema, the search_path of every function of schema whose search_path
// was set FROM CURRENT during the restore (the staging schema) to schema.
func fixSearchPath(ctx context.Context, tx pgx.Tx, schema, staging string) error {
	rows, err := tx.Query(ctx, `SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = $1 AND p.proconfig && ARRAY['search_path=' || $2, 'search_path=' || quote_ident($2), 'search_path="' || $2 || '"']`, schema, staging)
	if err != nil {
		return pgFail("read restored functions", err)
	}
	sigs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return pgFail("read restored functions", err)
	}
	for _, sig := range sigs {
		// sig is the server's own rendering of the function, quoted.
		if _, err := tx.Exec(ctx, "ALTER ROUTINE "+sig+" SET search_path TO "+qi(schema)); err != nil {
			return pgFail("pin restored function search_path", err)
		}
	}
	return nil
}
