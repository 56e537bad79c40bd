package report_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoTestingLinked: a program that links the report or the configuration
// format, such as the hipaakit command, does not link package testing. The
// compliance suite does, which shows the check can fail.
func TestNoTestingLinked(t *testing.T) {
	const module = "github.com/hipaakit/hipaakit/"
	for pkg, wantTesting := range map[string]bool{
		module + "cmd/hipaakit":      false,
		module + "compliance/report": false,
		module + "serviceconfig":     false,
		module + "compliance":        true,
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		if got := slices.Contains(strings.Fields(string(out)), "testing"); got != wantTesting {
			t.Errorf("%s links package testing: %v, want %v", pkg, got, wantTesting)
		}
	}
}
