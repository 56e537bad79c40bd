package depcheck

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const goodTable = "intro\n" + tableBegin + "\n" +
	"| area | may import |\n|---|---|\n" +
	"| `clock` | none |\n| `audit` | `clock` |\n| `hipaakit (root)` | `audit`, `clock` |\n| `cmd` | any |\n" +
	tableEnd + "\nafter\n"

func TestParseTable(t *testing.T) {
	got, err := ParseTable([]byte(goodTable))
	if err != nil {
		t.Fatal(err)
	}
	want := Table{"clock": {}, "audit": {"clock"}, "": {"audit", "clock"}, "cmd": {"*"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Fatalf("area %q: got %v, want %v", k, got[k], v)
		}
	}
}

// TestParseTableErrors: every malformed table fails with ErrMalformedTable
// and a message that says what is wrong (and where).
func TestParseTableErrors(t *testing.T) {
	row := func(rows string) string {
		return tableBegin + "\n| area | may import |\n|---|---|\n" + rows + tableEnd + "\n"
	}
	for name, c := range map[string]struct{ doc, says string }{
		"no markers":     {"| area | may import |\n", "markers"},
		"no end":         {tableBegin + "\n| area | may import |\n", "markers"},
		"reversed":       {tableEnd + "\n" + tableBegin + "\n", "before"},
		"twice":          {goodTable + goodTable, "once"},
		"empty":          {row(""), "no area rows"},
		"bad header":     {tableBegin + "\n| package | imports |\n|---|---|\n" + tableEnd, "line 2: want the header"},
		"no separator":   {tableBegin + "\n| area | may import |\n| `clock` | none |\n" + tableEnd, "separator"},
		"three cells":    {row("| `clock` | none | extra |\n"), "line 4: want a row of two cells"},
		"not a row":      {row("clock: none\n"), "two cells"},
		"unquoted area":  {row("| clock | none |\n"), "backquoted"},
		"nested area":    {row("| `phi/pgstore` | none |\n"), "backquoted"},
		"duplicate":      {row("| `clock` | none |\n| `clock` | none |\n"), "two rows"},
		"import below":   {row("| `audit` | `clock` |\n| `clock` | none |\n"), "no row above"},
		"import unknown": {row("| `audit` | `mystery` |\n"), "no row above"},
		"bad list":       {row("| `clock` | none |\n| `audit` | clock |\n"), "backquoted areas"},
		"empty list":     {row("| `clock` | |\n"), "none, any"},
	} {
		_, err := ParseTable([]byte(c.doc))
		if !errors.Is(err, ErrMalformedTable) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %v, want ErrMalformedTable saying %q", name, err, c.says)
		}
	}
}
