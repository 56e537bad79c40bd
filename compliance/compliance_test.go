package compliance

import (
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/compliance/evidence"
	"github.com/hipaakit/hipaakit/signing"

	"github.com/hipaakit/hipaakit/auth"
	"os/exec"
	"strings"
	"testing"
)

// brokenEnv makes TestFixtureRun run a broken fixture; only
// TestBrokenHandlersFail sets it, in a child process.
const brokenEnv = "HIPAAKIT_COMPLIANCE_BROKEN_FIXTURE"

// evidenceEnv names "DIR KEYFILE": TestFixtureRun then writes its signed
// evidence there (only TestRunWritesEvidence sets it, in a child process).
const evidenceEnv = "HIPAAKIT_COMPLIANCE_EVIDENCE"

// TestFixtureRun runs the whole suite against the fixture service. With no
// environment it runs the correct fixture, which must pass every control.
func TestFixtureRun(t *testing.T) {
	f := newFixture(os.Getenv(brokenEnv))
	tg := f.service()
	switch f.broken {
	case "undeclared-served":
		tg.Served = append(tg.Served, auth.Route{Pattern: "DELETE /patients/{id}", PHI: true})
	case "stale-route":
		tg.Routes[2].Pattern = "GET /calendar"
	case "unmarked-phi":
		tg.Served[2].PHI = true
	case "no-totp-hook":
		tg.TOTP = nil
	case "no-password-login-hook":
		tg.PasswordLogin = nil
	}
	if dir, keyFile, ok := strings.Cut(os.Getenv(evidenceEnv), " "); ok {
		key, err := signing.Load(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		tg.Evidence = &Evidence{Dir: dir, SigningKey: key}
	}
	Run(t, tg)
}

// TestRunWritesEvidence: with Service.Evidence, Run writes junit.xml and
// results.json, both signed, naming each control and what failed (a
// fixture that trusts a role header fails access control).
func TestRunWritesEvidence(t *testing.T) {
	key, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := signing.Save(keyFile, key); err != nil {
		t.Fatal(err)
	}
	trusted, _ := signing.NewKeySet(key.PublicKey())
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestFixtureRun$")
	cmd.Env = append(os.Environ(), brokenEnv+"=trusts-role-header", evidenceEnv+"="+dir+" "+keyFile)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the broken fixture passed:\n%s", out)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, name := range []string{"junit.xml", "results.json"} {
		if _, err := evidence.Verify(name, read(name), read(name+evidence.SigSuffix), trusted); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	junit := string(read("junit.xml"))
	if !strings.Contains(junit, `tests="9" failures="1" skipped="0"`) || !strings.Contains(junit, `<testcase name="`+ControlAccess+`" classname="compliance.Run">`) ||
		!strings.Contains(junit, "after claiming role &#34;physician&#34; through X-Role header") {
		t.Fatalf("junit.xml:\n%s", junit)
	}
}

// TestBrokenHandlersFail re-runs TestFixtureRun in a child process against
// fixtures with one safeguard removed each, and checks that the matching
// control fails with a readable message.
func TestBrokenHandlersFail(t *testing.T) {
	cases := []struct {
		broken string
		want   []string // messages that must appear
		failed []string // exactly the controls that must fail
	}{
		{"missing-permission",
			[]string{"164.312(a)(1) access control: PUT /patients/{id} as nurse returned 200 OK, want 403",
				"164.312(b) audit controls: the denial of PUT /patients/{id} to nurse produced no audit event"},
			// A route with no permission check denies nothing, so no denial is audited either.
			[]string{ControlAccess, ControlAudit}},
		{"unaudited-read",
			[]string{"164.312(b) audit controls: GET /patients/{id} produced no audit event"},
			// The emergency route is that same read, so its flagged event is missing too.
			[]string{ControlAudit, ControlEmergency}},
		{"open-without-reveal",
			[]string{"164.312(b) audit controls: GET /patients/{id} returned PHI field dob without a field-level access event"},
			[]string{ControlAudit}},
		{"leaked-canary",
			[]string{"164.306(a)(1) confidentiality of PHI: canary PHI appeared in the service's log output"},
			[]string{ControlConfidential}},
		{"trusts-role-header",
			[]string{`164.312(a)(1) access control: PUT /patients/{id} as nurse succeeded (200 OK) after claiming role "physician" through X-Role header`},
			[]string{ControlAccess}},
		{"no-idle-timeout",
			[]string{"164.312(a)(2)(iii) automatic logoff: GET /schedule after 15m1s idle returned 200 OK, want 401"},
			[]string{ControlAutoLogoff}},
		{"no-csrf",
			[]string{"164.312(a)(1) access control: PUT /patients/{id} as physician from another site, with the session cookie but no CSRF token, returned 200 OK, want it refused"},
			[]string{ControlAccess}},
		{"cacheable-schedule",
			[]string{`164.312(e)(1) transmission and caching: GET /schedule as physician answers without Cache-Control: no-store (got "")`},
			[]string{ControlTransmission}},
		{"echoes-canary",
			[]string{"164.306(a)(1) confidentiality of PHI: GET /patients/{id} without a session echoed canary PHI from the request into its 404 Not Found answer"},
			[]string{ControlConfidential}},
		{"undeclared-served",
			[]string{"164.312(a)(1) access control: the handler serves DELETE /patients/{id}, which Service.Routes does not declare (so nothing checks it)"},
			[]string{ControlAccess}},
		{"stale-route",
			[]string{"164.312(a)(1) access control: Service.Routes declares GET /calendar, which the Guard does not serve",
				"the handler serves GET /schedule, which Service.Routes does not declare"},
			[]string{ControlAccess}},
		{"unmarked-phi",
			[]string{"164.312(a)(1) access control: GET /schedule is registered as PHI (auth.PHI) but declared without PHI"},
			[]string{ControlAccess}},
		{"no-mfa-enforcement",
			[]string{"164.312(d) person or entity authentication, second factor: GET /patients/{id} as physician with a password-only session returned 200 OK, want 403 (the tenant requires MFA)",
				"GET /schedule as physician with a password-only session returned 200 OK"},
			[]string{ControlMFA}},
	}
	for _, c := range cases {
		t.Run(c.broken, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestFixtureRun$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+c.broken)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a fixture with %s:\n%s", c.broken, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			// Only the matching controls may fail.
			var failed []string
			for _, line := range strings.Split(string(out), "\n") {
				_, name, ok := strings.Cut(strings.TrimSpace(line), "--- FAIL: TestFixtureRun/")
				if ok && !strings.Contains(name, "/") {
					name, _, _ = strings.Cut(name, " (")
					failed = append(failed, name)
				}
			}
			var want []string
			for _, c := range c.failed {
				want = append(want, strings.ReplaceAll(c, " ", "_"))
			}
			if strings.Join(failed, ",") != strings.Join(want, ",") {
				t.Errorf("failed controls %v, want %v:\n%s", failed, want, out)
			}
		})
	}
}

func TestMissingHookFailsLoudly(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestFixtureRun$", "-test.v")
	cmd.Env = append(os.Environ(), brokenEnv+"=no-totp-hook")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "Service.TOTP not set") {
		t.Fatalf("a missing hook did not fail its control by name:\n%s", out)
	}
	cmd = exec.Command(os.Args[0], "-test.run", "^TestFixtureRun$", "-test.v")
	cmd.Env = append(os.Environ(), brokenEnv+"=no-password-login-hook")
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), ControlMFA+": cannot be checked: Service.PasswordLogin not set") {
		t.Fatalf("a missing PasswordLogin did not fail the MFA control by name:\n%s", out)
	}
}
