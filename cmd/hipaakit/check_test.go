package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/compliance/suite"
	"github.com/hipaakit/hipaakit/signing"
)

// TestCheckCommandRefuses: the check command refuses a check file others
// may read, a bad file (naming the member, not the value), a URL that is
// not https, and a missing --users, with the usage exit code; it never
// takes credentials from the command line.
func TestCheckCommandRefuses(t *testing.T) {
	dir := t.TempDir()
	good := `{"version":1,"tenant_id":"t","auth_prefix":"/auth","roles":["nurse"],"routes":[{"method":"GET","path":"/x","roles":["nurse"]}],
"users":[{"name":"n","password":"PW-CANARY-1","role":"nurse"}]}`
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	open := write("open.json", good, 0o644)
	bad := write("bad.json", strings.Replace(good, `"/x"`, `"//other.example/x"`, 1), 0o600)
	ok := write("ok.json", good, 0o600)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check", "--users", open, "https://127.0.0.1:1"}, exitUsage, "readable by group or others"},
		{[]string{"check", "--users", bad, "https://127.0.0.1:1"}, exitUsage, "routes[0].path"},
		{[]string{"check", "--users", ok, "http://127.0.0.1:1"}, exitUsage, "https://HOST[:PORT]"},
		{[]string{"check", "--users", ok, "https://127.0.0.1:1/path"}, exitUsage, "no path"},
		{[]string{"check", "https://127.0.0.1:1"}, exitUsage, "--users is required"},
		{[]string{"check", "--users", filepath.Join(dir, "missing.json"), "https://127.0.0.1:1"}, exitFailure, "cannot read the check file missing.json"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), &cli{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, c.args)
		if code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d with %q", c.args[1:], code, errb.String(), c.code, c.want)
		}
		if strings.Contains(errb.String()+out.String(), "PW-CANARY") || strings.Contains(errb.String(), dir) {
			t.Errorf("%v: output holds a secret or an absolute path: %s", c.args[1:], errb.String())
		}
	}
}

// TestCheckEvidence: check's results become junit.xml and check.json,
// each signed, and report --verify accepts them.
func TestCheckEvidence(t *testing.T) {
	key, err := signing.Generate()
	check(t, err)
	keyFile := filepath.Join(t.TempDir(), "signing-key.pem")
	check(t, signing.Save(keyFile, key))
	trusted, err := signing.NewKeySet(key.PublicKey())
	check(t, err)
	keysFile := filepath.Join(t.TempDir(), "trusted.pem")
	check(t, os.WriteFile(keysFile, trusted.EncodePEM(), 0o644))
	dir := filepath.Join(t.TempDir(), "evidence")
	res := suite.Results{{Control: suite.ControlAccess, Status: suite.Passed}, {Control: suite.ControlAudit, Status: suite.NotChecked, Messages: []string{"needs the trail"}}}
	check(t, writeCheckEvidence(dir, keyFile, res))
	for _, name := range []string{"junit.xml", "check.json"} {
		if code, stdout, stderr := runCLI(t, nil, "report", "--verify", filepath.Join(dir, name), "--keys", keysFile); code != exitOK {
			t.Fatalf("verify %s: exit %d\n%s%s", name, code, stdout, stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	check(t, err)
	if !strings.Contains(string(b), `<skipped message="not checked">needs the trail</skipped>`) {
		t.Fatalf("junit.xml:\n%s", b)
	}
}
