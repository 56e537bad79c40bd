package depcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/hipaakit/hipaakit"

// architecture is the module's architecture document, relative to this
// package's directory, whose import table the test enforces.
const architecture = "../../ARCHITECTURE.md"

// loadTable reads the import table of ARCHITECTURE.md.
func loadTable(t *testing.T) Table {
	t.Helper()
	doc, err := os.ReadFile(architecture)
	if err != nil {
		t.Fatalf("read ARCHITECTURE.md at the repository root: %v", err)
	}
	table, err := ParseTable(doc)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

func area(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	a, _, _ := strings.Cut(rel, "/")
	return a
}

// violations returns "importer -> imported" lines that break allowed, and
// the areas it does not know, sorted.
func violations(allowed Table, imports map[string][]string) (bad []string, unknown []string) {
	seen := map[string]bool{}
	for pkg, deps := range imports {
		from := area(pkg)
		allow, ok := allowed[from]
		if !ok {
			if !seen[from] {
				unknown = append(unknown, from)
				seen[from] = true
			}
			continue
		}
		for _, d := range deps {
			if !strings.HasPrefix(d, module+"/") && d != module {
				continue
			}
			to := area(d)
			if to == from || (len(allow) == 1 && allow[0] == "*") {
				continue
			}
			permitted := false
			for _, a := range allow {
				permitted = permitted || a == to
			}
			if !permitted {
				bad = append(bad, pkg+" -> "+d)
			}
		}
	}
	sort.Strings(bad)
	sort.Strings(unknown)
	return bad, unknown
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			imports[f[0]] = f[1:]
		}
	}
	if len(imports) < 5 {
		t.Fatalf("go list found only %d packages", len(imports))
	}
	bad, unknown := violations(loadTable(t), imports)
	for _, b := range bad {
		t.Errorf("import against the import table in ARCHITECTURE.md: %s", b)
	}
	for _, u := range unknown {
		t.Errorf("%s", unregistered(u))
	}
}

// unregistered is the failure message for a top-level folder without a row.
func unregistered(a string) string {
	return fmt.Sprintf("top-level folder %s is not registered: add a row for %s to the import table in ARCHITECTURE.md", displayArea(a), displayArea(a))
}

// TestViolationsDetected proves the checker is not vacuous, against the
// table ARCHITECTURE.md holds.
func TestViolationsDetected(t *testing.T) {
	bad, unknown := violations(loadTable(t), map[string][]string{
		module + "/audit":           {module + "/phi", "fmt"},
		module + "/phi/filestore":   {module + "/phi", module + "/durable"},
		module + "/internal/redact": {module + "/audit"},
		module + "/mystery":         {},
		module + "/examples/x":      {module + "/backup"},
		module:                      {module + "/auth", module + "/compliance"},
		module + "/backup":          {module},
	})
	if len(bad) != 4 {
		t.Fatalf("bad = %v, want the audit->phi, internal->audit, root->compliance and backup->root imports", bad)
	}
	if len(unknown) != 1 || unknown[0] != "mystery" {
		t.Fatalf("unknown = %v", unknown)
	}
	if got, want := unregistered("mystery"), "add a row for mystery to the import table in ARCHITECTURE.md"; !strings.Contains(got, want) {
		t.Fatalf("message %q does not say %q", got, want)
	}
}
