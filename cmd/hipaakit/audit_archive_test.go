package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit/archive/archivetest"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/clock"
)

func TestAuditArchiveVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	tgt, err := backup.NewDirTarget(dir)
	if err != nil {
		t.Fatal(err)
	}
	units := archivetest.Run(t, backup.ArchiveTarget(tgt), clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)))
	last := units[len(units)-1]
	pemKey, _ := keyFiles(t, t.TempDir(), archivetest.Key())
	code, out, errOut := runCLI(t, nil, "audit", "archive-verify", "--key", pemKey, dir)
	if code != exitOK || !strings.Contains(out, "OK: stream audit archive holds records") {
		t.Fatalf("archive-verify: %d %q %q", code, out, errOut)
	}
	// the archive extends a checkpoint kept from it; a cut archive does not
	kept := filepath.Join(t.TempDir(), "kept.note")
	cpb, err := os.ReadFile(filepath.Join(dir, "audit", "audit", "checkpoint", fmt.Sprintf("%020d.note", last.Last)))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(kept, cpb, 0o600)
	if code, out, _ := runCLI(t, nil, "audit", "archive-verify", "--key", pemKey, "--since", kept, dir); code != exitOK || !strings.Contains(out, "extends the kept checkpoint") {
		t.Fatalf("archive-verify --since: %d %q", code, out)
	}
	pf := filepath.Join(t.TempDir(), "p.proof")
	code, out, _ = runCLI(t, nil, "audit", "archive-verify", "--key", pemKey, "--prove", itoa(last.Last), "--out", pf, dir)
	if code != exitOK {
		t.Fatalf("archive-verify --prove: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, nil, "audit", "verify-proof", "--key", pemKey, pf); code != exitOK {
		t.Fatalf("verify-proof of the archive's proof: %d %q", code, out)
	}
	// a damaged segment is a failed check
	seg := filepath.Join(dir, "audit", "audit", "seg", fmt.Sprintf("%020d.jsonl", last.First))
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(seg, []byte(strings.Replace(string(b), `"s-`, `"x-`, 1)), 0o600)
	if code, out, _ := runCLI(t, nil, "audit", "archive-verify", "--key", pemKey, dir); code != exitCheck || !strings.Contains(out, "FAILED") {
		t.Fatalf("damaged archive: %d %q", code, out)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
