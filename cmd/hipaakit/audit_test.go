package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/signing"
)

var cliT0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func cliEvent(i int) audit.Event {
	return audit.Event{
		Time: cliT0.Add(time.Duration(i) * time.Minute), Action: []audit.Action{audit.ActionRead, audit.ActionUpdate}[i%2],
		Outcome: audit.OutcomeSuccess,
		Actor:   audit.Actor{UserID: fmt.Sprintf("u-%d", i%3), Role: "nurse"},
		Target:  audit.Target{RecordType: "patient", RecordID: fmt.Sprintf("r-%d", i%4), Subject: fmt.Sprintf("p-%d", i%4)},
		Purpose: "treatment",
	}
}

// keyFiles writes the public key as PEM, and a trusted-keys file holding
// another (rotated-out) key before it, and returns both paths.
func keyFiles(t *testing.T, dir string, key ed25519.PrivateKey) (string, string) {
	t.Helper()
	pemPath, setPath := filepath.Join(dir, "key.pem"), filepath.Join(dir, "trusted.pem")
	own, err := signing.EncodePublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	set, err := signing.NewKeySet(other, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pemPath, own, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(setPath, set.EncodePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return pemPath, setPath
}

func newFileLog(t *testing.T, n int) (dir, pemKey, setKey string) {
	t.Helper()
	dir, pemKey, setKey, _ = newFileLogKey(t, n)
	return dir, pemKey, setKey
}

// newFileLogKey is newFileLog that also returns the log's signing key.
func newFileLogKey(t *testing.T, n int) (dir, pemKey, setKey string, key ed25519.PrivateKey) {
	t.Helper()
	_, key, _ = ed25519.GenerateKey(rand.Reader)
	tmp := t.TempDir()
	dir = filepath.Join(tmp, "log")
	l, err := audit.OpenFileLog(context.Background(), dir, audit.FileOptions{Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := l.Write(context.Background(), cliEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A checkpoint kept outside the log, for --expect.
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	line, err := cp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "expect.jsonl"), append(line, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	pemKey, setKey = keyFiles(t, tmp, key)
	return dir, pemKey, setKey, key
}

func TestAuditVerifyFileLog(t *testing.T) {
	dir, pemKey, setKey := newFileLog(t, 20)
	code, out, errOut := runCLI(t, nil, "audit", "verify", "--key", pemKey, dir)
	if code != exitOK || !strings.Contains(out, "OK: intact") || !strings.Contains(out, "20 records") {
		t.Fatalf("code %d out %q err %q", code, out, errOut)
	}
	// Flags after the target, a file of several trusted keys, a checkpoint
	// kept outside the log.
	expect := filepath.Join(filepath.Dir(dir), "expect.jsonl")
	if code, out, _ := runCLI(t, nil, "audit", "verify", dir, "--key", setKey, "--require-sealed", "--expect", expect); code != exitOK {
		t.Fatalf("trusted-keys file: %d %q", code, out)
	}
	// Truncating the log before that checkpoint is detected.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	whole, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.Split(whole, []byte("\n"))
	if err := os.WriteFile(segs[0], append(bytes.Join(cut[:len(cut)-6], []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, nil, "audit", "verify", "--key", pemKey, "--expect", expect, dir); code != exitCheck || !strings.Contains(out, "first bad event") {
		t.Fatalf("truncated: %d %q", code, out)
	}
	if err := os.WriteFile(segs[0], whole, 0o600); err != nil {
		t.Fatal(err)
	}

	// Tamper with record 7: the first bad event is named, exit 1.
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if bytes.Contains(l, []byte(`"seq":7,`)) {
			lines[i] = bytes.Replace(l, []byte("nurse"), []byte("admin"), 1)
		}
	}
	if err := os.WriteFile(segs[0], bytes.Join(lines, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, nil, "audit", "verify", "--key", pemKey, dir)
	if code != exitCheck || !strings.Contains(out, "first bad event: stream audit seq 7: modified") {
		t.Fatalf("tampered: code %d out %q err %q", code, out, errOut)
	}
}

// --expect reads the checkpoint file as audit.LatestCheckpoints does: a
// crash while appending leaves an incomplete last line, which is ignored.
func TestAuditVerifyExpectTornCheckpointFile(t *testing.T) {
	dir, pemKey, _ := newFileLog(t, 5)
	expect := filepath.Join(filepath.Dir(dir), "expect.jsonl")
	f, err := os.OpenFile(expect, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(`{"checkpoint":{"head":"00`)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, nil, "audit", "verify", "--key", pemKey, "--expect", expect, dir); code != exitOK {
		t.Fatalf("torn checkpoint file: code %d out %q err %q", code, out, errOut)
	}
	// a bad complete line is still an error
	if err := os.WriteFile(expect, []byte("not a checkpoint\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, nil, "audit", "verify", "--key", pemKey, "--expect", expect, dir); code != exitFailure {
		t.Fatalf("garbage checkpoint file: code %d err %q", code, errOut)
	}
}

// A forged line in the --expect file (the real checkpoint with a higher seq
// and a zeroed signature) is a bad signature, never truncation of the
// untouched log, and it does not hide the genuine checkpoint.
func TestAuditVerifyExpectForgedCheckpoint(t *testing.T) {
	dir, pemKey, _ := newFileLog(t, 5)
	expect := filepath.Join(filepath.Dir(dir), "expect.jsonl")
	b, err := os.ReadFile(expect)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.ParseCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	cp.Seq, cp.Head, cp.Sig = cp.Seq+3, audit.Hash{1}, make([]byte, ed25519.SignatureSize)
	forged, err := cp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(expect, append(append(b, forged...), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "audit", "verify", "--key", pemKey, "--expect", expect, dir)
	if code != exitCheck || !strings.Contains(out, "bad signature") || !strings.Contains(errOut, "expect.jsonl:2:") || strings.Contains(out+errOut, "truncated") {
		t.Fatalf("forged checkpoint: code %d out %q err %q", code, out, errOut)
	}
}

func TestAuditQueryExportDisclosuresFileLog(t *testing.T) {
	dir, pemKey, _ := newFileLog(t, 24)
	// Page through p-1's records, three at a time.
	var got []audit.Record
	after := ""
	for pages := 0; ; pages++ {
		args := []string{"audit", "query", "--key", pemKey, "--subject", "p-1", "--limit", "3", dir}
		if after != "" {
			args = append(args, "--after", after)
		}
		code, out, errOut := runCLI(t, nil, args...)
		if code != exitOK || pages > 5 {
			t.Fatalf("query: %d %q", code, errOut)
		}
		for l := range strings.Lines(out) {
			r, err := audit.ParseRecord([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		next, ok := strings.CutPrefix(strings.TrimSpace(errOut), "next: ")
		if !ok {
			break
		}
		after = next
	}
	if len(got) != 6 {
		t.Fatalf("%d records", len(got))
	}
	for i, r := range got {
		if r.Event.Target.Subject != "p-1" || (i > 0 && r.Seq <= got[i-1].Seq) {
			t.Fatalf("record %d: %s seq %d", i, r.Event.Target.Subject, r.Seq)
		}
	}

	code, out, errOut := runCLI(t, nil, "audit", "export", "--key", pemKey, "--format", "csv", "--action", "update,read", "--actor", "u-0",
		"--since", "2026-04-01", "--until", "2026-04-02T00:00:00Z", dir)
	if code != exitOK || !strings.Contains(errOut, "exported 8 records") {
		t.Fatalf("export: %d %q", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 9 || rows[0][0] != "time" {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	outFile := filepath.Join(t.TempDir(), "out.jsonl")
	if code, _, errOut := runCLI(t, nil, "audit", "export", "--key", pemKey, "--out", outFile, dir); code != exitOK {
		t.Fatalf("export --out: %q", errOut)
	}
	if code, _, _ := runCLI(t, nil, "audit", "export", "--key", pemKey, "--out", outFile, dir); code != exitFailure {
		t.Fatal("export overwrote an existing file")
	}

	// treatment reads are no disclosures (164.528(a)(1)): only the header
	code, out, _ = runCLI(t, nil, "audit", "disclosures", "--key", pemKey, "--subject", "p-2", "--until", "2027-01-01", dir)
	rows, err = csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != exitOK || err != nil || len(rows) != 1 {
		t.Fatalf("disclosures: %d %v %q", code, err, rows)
	}
	code, out, _ = runCLI(t, nil, "audit", "disclosures", "--key", pemKey, "--include-tpo", "--subject", "p-2", "--until", "2027-01-01", dir)
	rows, err = csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != exitOK || err != nil || len(rows) != 7 || rows[1][1] == "" || rows[1][16] != "treatment" {
		t.Fatalf("disclosures: %d %v %q", code, err, rows)
	}
}

// A failed export --out leaves no file (partial or empty) and no temporary
// behind, so a rerun after the cause is fixed succeeds; an existing file
// is still never overwritten.
func TestAuditExportOutFailureLeavesNothing(t *testing.T) {
	dir, pemKey, _ := newFileLog(t, 20)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	whole, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(whole, []byte("\n"))
	bad := append([][]byte(nil), lines...)
	for i, l := range bad {
		if bytes.Contains(l, []byte(`"seq":15,`)) {
			bad[i] = []byte("not a record")
		}
	}
	if err := os.WriteFile(segs[0], bytes.Join(bad, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	outFile := filepath.Join(outDir, "out.jsonl")
	if code, _, errOut := runCLI(t, nil, "audit", "export", "--key", pemKey, "--out", outFile, dir); code == exitOK {
		t.Fatalf("export of a damaged log succeeded: %q", errOut)
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Fatalf("failed export left %d file(s), first %q", len(left), left[0].Name())
	}
	if err := os.WriteFile(segs[0], whole, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, nil, "audit", "export", "--key", pemKey, "--out", outFile, dir); code != exitOK || !strings.Contains(errOut, "exported 20 records") {
		t.Fatalf("rerun: %d %q", code, errOut)
	}
	got, err := os.ReadFile(outFile)
	if err != nil || bytes.Count(got, []byte("\n")) != 20 {
		t.Fatalf("exported file: %v, %d lines", err, bytes.Count(got, []byte("\n")))
	}
	if fi, _ := os.Stat(outFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("exported file mode %v", fi.Mode())
	}
	if code, _, _ := runCLI(t, nil, "audit", "export", "--key", pemKey, "--out", outFile, dir); code != exitFailure {
		t.Fatal("export overwrote an existing file")
	}
	if again, _ := os.ReadFile(outFile); !bytes.Equal(again, got) {
		t.Fatal("refused export changed the existing file")
	}
	if left, _ := os.ReadDir(outDir); len(left) != 1 {
		t.Fatalf("export left %d files", len(left))
	}
}

func TestAuditPostgres(t *testing.T) {
	pool, schema := hipaakittest.PostgresSchema(t)
	ctx := context.Background()
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "api-1", Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if err := w.Write(ctx, cliEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close(ctx)
	pemKey, _ := keyFiles(t, t.TempDir(), key)
	sep := "?"
	if strings.Contains(hipaakittest.PostgresURL(), "?") {
		sep = "&"
	}
	env := map[string]string{envDatabaseURL: hipaakittest.PostgresURL() + sep + "search_path=" + schema}

	code, out, errOut := runCLI(t, env, "audit", "verify", "--key", pemKey, "pg")
	if code != exitOK || !strings.Contains(out, "stream api-1: 12 records") {
		t.Fatalf("verify: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "audit", "query", "--key", pemKey, "--subject", "p-3", "--format", "csv", "pg")
	if code != exitOK || strings.Count(out, "\n") != 4 {
		t.Fatalf("query: %d %q", code, out)
	}
	if _, err := pool.Exec(ctx, "SET session_replication_role = replica; DELETE FROM hipaakit_audit_records WHERE seq = 4"); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, env, "audit", "verify", "--key", pemKey, "pg")
	if code != exitCheck || !strings.Contains(out, "stream api-1 seq 4: deleted") {
		t.Fatalf("tampered: %d %q", code, out)
	}
	// reads verify by default: the tampering is reported, nothing printed
	for _, cmd := range []string{"query", "export"} {
		code, out, errOut := runCLI(t, env, "audit", cmd, "--key", pemKey, "pg")
		if code != exitCheck || out != "" || !strings.Contains(errOut, "stream api-1 seq 4: deleted") {
			t.Fatalf("%s of a tampered trail: %d %q %q", cmd, code, out, errOut)
		}
	}
}

// query, export and disclosures verify what they read unless told not to:
// a hand-edited record is reported (exit 1), not printed.
func TestAuditReadsVerify(t *testing.T) {
	dir, pemKey, _ := newFileLog(t, 6)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(b, []byte(`"subject":"p-2"`), []byte(`"subject":"p-9"`), 1)
	if bytes.Equal(forged, b) {
		t.Fatal("no record of p-2 to forge")
	}
	if err := os.WriteFile(segs[0], forged, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"query", "--subject", "p-9"},
		{"export", "--subject", "p-9"},
		{"disclosures", "--subject", "p-9", "--until", "2030-01-01"},
	} {
		code, out, errOut := runCLI(t, nil, append(append([]string{"audit"}, args...), "--key", pemKey, dir)...)
		if code != exitCheck || strings.Contains(out, "p-9") || !strings.Contains(errOut, "does not verify") || !strings.Contains(errOut, "modified") {
			t.Fatalf("%q of a forged log: %d %q %q", args, code, out, errOut)
		}
		if code, _, _ := runCLI(t, nil, append(append([]string{"audit"}, args...), dir)...); code != exitUsage {
			t.Fatalf("%q without --key: %d", args, code)
		}
	}
	code, out, _ := runCLI(t, nil, "audit", "query", "--subject", "p-9", "--verify=false", dir)
	if code != exitOK || !strings.Contains(out, "p-9") {
		t.Fatalf("--verify=false reads unverified: %d %q", code, out)
	}
}

func TestAuditUsageAndFailures(t *testing.T) {
	dir, pemKey, _ := newFileLog(t, 2)
	usage := [][]string{
		{"audit"},
		{"audit", "frobnicate"},
		{"audit", "verify", dir},                       // no key
		{"audit", "verify", "--key", pemKey},           // no target
		{"audit", "verify", "--key", pemKey, dir, dir}, // two targets
		{"audit", "query", "--key", pemKey, "--since", "yesterday", dir},   // bad time
		{"audit", "query", "--key", pemKey, "--action", "DROP TABLE", dir}, // bad action
		{"audit", "query", "--key", pemKey, "--outcome", "maybe", dir},     // bad outcome
		{"audit", "query", "--key", pemKey, "--limit", "100000", dir},      // too big
		{"audit", "query", "--key", pemKey, "--after", "c1_garbage", dir},  // bad cursor
		{"audit", "query", "--key", pemKey, "--format", "xml", dir},        // bad format
		{"audit", "query", "--key", pemKey, "--nope", dir},                 // unknown flag
		{"audit", "disclosures", "--key", pemKey, dir},                     // no subject
		{"audit", "query", "--key", pemKey, "pg"},                          // no URL in env
		{"audit", "query", "--key", pemKey, "--since", "2026-02-01", "--until", "2026-01-01", dir},
	}
	for _, args := range usage {
		if code, _, errOut := runCLI(t, nil, args...); code != exitUsage {
			t.Errorf("%q: code %d, %q", args, code, errOut)
		}
	}
	const secret = "S3CRET-PW-CANARY"
	for _, args := range [][]string{
		{"audit", "query", "--key", pemKey, filepath.Join(dir, "missing")},
		{"audit", "verify", "--key", filepath.Join(dir, "missing.pem"), dir},
		{"audit", "query", "--key", pemKey, "postgres://user:" + secret + "@127.0.0.1:1/db?connect_timeout=2"},
	} {
		code, out, errOut := runCLI(t, nil, args...)
		if code != exitFailure {
			t.Errorf("%q: code %d, %q", args, code, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("password leaked: %q", errOut)
		}
	}
	code, _, errOut := runCLI(t, map[string]string{envDatabaseURL: "postgres://user:" + secret + "@127.0.0.1:1/db?connect_timeout=2"}, "audit", "query", "--key", pemKey, "pg")
	if code != exitFailure || strings.Contains(errOut, secret) {
		t.Fatalf("%d %q", code, errOut)
	}
}

// FuzzAuditFilterFlags feeds arbitrary command lines to the filter flag
// parser: it never panics, and what it accepts is a valid Filter.
func FuzzAuditFilterFlags(f *testing.F) {
	f.Add("--subject p-1 --action read,update --since 2026-01-01 DIR")
	f.Add("--outcome failure --until 2026-01-01T00:00:00Z --actor ' OR 1=1 -- DIR")
	f.Add("--record-id % --record-type _ --stream api-1 DIR --action x.y")
	f.Fuzz(func(t *testing.T, line string) {
		fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
		var ff filterFlags
		ff.bind(fs)
		if _, err := parseArgs(fs, strings.Fields(line)); err != nil {
			return
		}
		flt, err := ff.filter()
		if err != nil {
			return
		}
		if err := flt.Validate(); err != nil {
			t.Fatalf("accepted an invalid filter: %v", err)
		}
	})
}
