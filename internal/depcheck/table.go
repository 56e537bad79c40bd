package depcheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Markers around the import table in ARCHITECTURE.md.
const (
	tableBegin = "<!-- import-table:begin -->"
	tableEnd   = "<!-- import-table:end -->"
)

// RootArea is how the table names the area of the module's root package
// (whose area, the first path element after the module, is "").
const RootArea = "hipaakit (root)"

// anyArea is the "may import" cell of an area that may import every area.
const anyArea = "any"

// ErrMalformedTable reports an import table that ParseTable cannot read.
var ErrMalformedTable = errors.New("depcheck: malformed import table in ARCHITECTURE.md")

// Table maps an area of the module to the areas its non-test code may
// import; an area that may import anything maps to ["*"]. The root package's
// area is "".
type Table map[string][]string

// ParseTable reads the import table of an architecture document: the
// Markdown table between tableBegin and tableEnd, with a header row
// "| area | may import |", a separator row, and one row per area:
//
//	| `audit` | `signing`, `clock`, `durable`, `internal` |
//	| `clock` | none |
//	| `cmd` | any |
//
// Areas are backquoted (the root package is `hipaakit (root)`). A row may
// name only areas of rows above it, so that the table is a layering. Every
// problem is an error matching ErrMalformedTable that names the line.
func ParseTable(doc []byte) (Table, error) {
	text := string(doc)
	b := strings.Index(text, tableBegin)
	e := strings.Index(text, tableEnd)
	switch {
	case b < 0 || e < 0:
		return nil, fmt.Errorf("%w: the markers %s and %s must surround the table", ErrMalformedTable, tableBegin, tableEnd)
	case e < b:
		return nil, fmt.Errorf("%w: %s comes before %s", ErrMalformedTable, tableEnd, tableBegin)
	case strings.Count(text, tableBegin) != 1 || strings.Count(text, tableEnd) != 1:
		return nil, fmt.Errorf("%w: the markers must appear once each", ErrMalformedTable)
	}
	firstLine := strings.Count(text[:b], "\n") + 2 // the line after the begin marker
	t := Table{}
	sc := bufio.NewScanner(bytes.NewReader([]byte(text[b+len(tableBegin) : e])))
	sc.Scan() // the rest of the marker's line
	row := 0
	for n := firstLine; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: line %d: %s", ErrMalformedTable, n, fmt.Sprintf(format, args...))
		}
		cells, ok := splitRow(line)
		if !ok || len(cells) != 2 {
			return nil, bad("want a row of two cells, | area | may import |, got %q", line)
		}
		row++
		switch row {
		case 1:
			if cells[0] != "area" || cells[1] != "may import" {
				return nil, bad("want the header | area | may import |")
			}
			continue
		case 2:
			if strings.Trim(cells[0], "-:") != "" || strings.Trim(cells[1], "-:") != "" {
				return nil, bad("want the separator |---|---|")
			}
			continue
		}
		name, ok := areaName(cells[0])
		if !ok {
			return nil, bad("area %q must be one backquoted top-level folder or `%s`", cells[0], RootArea)
		}
		if _, dup := t[name]; dup {
			return nil, bad("area %s has two rows", cells[0])
		}
		deps, err := depList(cells[1], t)
		if err != nil {
			return nil, bad("%s: %v", cells[0], err)
		}
		t[name] = deps
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("%w: the table has no area rows", ErrMalformedTable)
	}
	return t, nil
}

// splitRow splits "| a | b |" into its trimmed cells.
func splitRow(line string) ([]string, bool) {
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil, false
	}
	cells := strings.Split(line[1:len(line)-1], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells, true
}

// areaName reads a backquoted area cell; the root package's area is "".
func areaName(cell string) (string, bool) {
	if len(cell) < 3 || cell[0] != '`' || cell[len(cell)-1] != '`' {
		return "", false
	}
	name := cell[1 : len(cell)-1]
	if name == RootArea {
		return "", true
	}
	if name == "" || strings.ContainsAny(name, "`/ ,") {
		return "", false
	}
	return name, true
}

// depList reads a "may import" cell: none, any, or backquoted areas of rows
// already in t, separated by commas.
func depList(cell string, t Table) ([]string, error) {
	switch cell {
	case "none":
		return []string{}, nil
	case anyArea:
		return []string{"*"}, nil
	}
	var deps []string
	for _, part := range strings.Split(cell, ",") {
		name, ok := areaName(strings.TrimSpace(part))
		if !ok {
			return nil, fmt.Errorf("may import %q: want none, any, or backquoted areas separated by commas", strings.TrimSpace(part))
		}
		if _, above := t[name]; !above {
			return nil, fmt.Errorf("may import %s, which has no row above this one (rows may name only areas above them)", strings.TrimSpace(part))
		}
		deps = append(deps, name)
	}
	return deps, nil
}

// displayArea is how messages name an area.
func displayArea(a string) string {
	if a == "" {
		return RootArea
	}
	return a
}
