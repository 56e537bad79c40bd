package depcheck

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hipaakit/hipaakit"

// allowed maps a top-level area of the module to the areas its non-test code
// may import. An area is the first path element after the module ("audit",
// "phi", "internal", ...); a package may always import its own area.
var allowed = map[string][]string{
	"clock":        {},
	"durable":      {},
	"hipaakittest": {},
	"internal":     {"clock", "durable"},
	"audit":        {"clock", "durable", "internal"},
	"phi":          {"audit", "clock", "durable", "internal"},
	"auth":         {"phi", "audit", "clock", "durable", "internal"},
	"disposal":     {"phi", "audit", "clock", "durable", "internal"},
	"retention":    {"disposal", "phi", "audit", "clock", "durable", "internal"},
	"backup":       {"disposal", "phi", "audit", "clock", "durable", "internal"},
	// The root package (hipaakit.Open) assembles a deployment from every
	// library package; no library package imports it.
	"":           {"backup", "retention", "disposal", "auth", "phi", "audit", "clock", "durable", "internal"},
	"compliance": {"*"},
	"cmd":        {"*"},
	"examples":   {"*"},
}

func area(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	a, _, _ := strings.Cut(rel, "/")
	return a
}

// violations returns "importer -> imported" lines that break the table, and
// the areas it does not know.
func violations(imports map[string][]string) (bad []string, unknown []string) {
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
	bad, unknown := violations(imports)
	for _, b := range bad {
		t.Errorf("import against DESIGN.md's package table: %s", b)
	}
	for _, u := range unknown {
		t.Errorf("package area %q is not in DESIGN.md's table; add it there and here", u)
	}
}

// TestViolationsDetected proves the checker is not vacuous.
func TestViolationsDetected(t *testing.T) {
	bad, unknown := violations(map[string][]string{
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
}
