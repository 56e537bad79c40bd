package suite

import (
	"errors"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/internal/redact"
)

const validCheckFile = `{"version":1,"tenant_id":"t","auth_prefix":"/auth","roles":["nurse"],
"routes":[{"method":"GET","path":"/x","roles":["nurse"]}],
"users":[{"name":"n1","password":"PW-CANARY-1234","totp_secret":"JBSWY3DPEHPK3PXPJBSWY3DP","role":"nurse"}],
"lockout_user":{"name":"l","password":"PW-CANARY-1234"},"lockout_threshold":5,"idle_timeout":"2s","session_lifetime":"5s"}`

// TestCheckFileErrors: each broken file is refused with an error naming the
// member at fault and quoting no value (the file holds secrets).
func TestCheckFileErrors(t *testing.T) {
	cases := []struct{ edit, from, to, want string }{
		{"version", `"version":1`, `"version":2`, "version: must be 1"},
		{"route to another host", `"path":"/x"`, `"path":"//evil.example/x"`, "routes[0].path: must be a path on the deployment"},
		{"absolute URL", `"path":"/x"`, `"path":"https://evil.example/x"`, "routes[0].path"},
		{"unknown role", `"roles":["nurse"]}]`, `"roles":["admin"]}]`, "routes[0].roles: names a role not in roles"},
		{"bad secret", `JBSWY3DPEHPK3PXPJBSWY3DP`, `PW-CANARY-1234`, "users[0].totp_secret: not a base32 TOTP secret"},
		{"no threshold", `"lockout_threshold":5`, `"lockout_threshold":0`, "lockout_threshold: required with lockout_user"},
		{"bad duration", `"idle_timeout":"2s"`, `"idle_timeout":"PW-CANARY-1234"`, "idle_timeout: must be a positive duration"},
		{"unknown member", `"version":1`, `"version":1,"PW-CANARY-1234":1`, "unknown member"},
		{"wrong type", `"lockout_threshold":5`, `"lockout_threshold":"PW-CANARY-1234"`, "lockout_threshold: wrong type"},
		{"exclude unknown", `"version":1`, `"version":1,"exclude":{"PW-CANARY-1234":"x"}`, "exclude: names a control"},
	}
	if _, err := ParseCheckFile([]byte(validCheckFile)); err != nil {
		t.Fatalf("the valid file: %v", err)
	}
	for _, c := range cases {
		t.Run(c.edit, func(t *testing.T) {
			_, err := ParseCheckFile([]byte(strings.Replace(validCheckFile, c.from, c.to, 1)))
			if err == nil || !errors.Is(err, ErrCheckFile) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrCheckFile with %q", err, c.want)
			}
			if strings.Contains(err.Error(), "CANARY") {
				t.Fatalf("the error quotes a value: %v", err)
			}
		})
	}
}

func TestCheckFileRedacts(t *testing.T) {
	f, err := ParseCheckFile([]byte(validCheckFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{*f, f} {
		if bad := redact.Leaks(v, "compliance.CheckFile", "PW-CANARY-1234", "JBSWY3DPEHPK3PXPJBSWY3DP"); len(bad) > 0 {
			t.Errorf("%T leaks: %v", v, bad)
		}
	}
}

func FuzzParseCheckFile(f *testing.F) {
	f.Add([]byte(validCheckFile))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"tenant_id":"t","auth_prefix":"/","roles":["a"],"routes":[{"method":"GET","path":"/?q=1","roles":["a"]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := ParseCheckFile(b)
		if err != nil {
			if !errors.Is(err, ErrCheckFile) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, rt := range cf.f.Routes {
			if !cleanPath(rt.Path) {
				t.Fatalf("accepted path %q", rt.Path)
			}
		}
		if !cleanPath(cf.f.AuthPrefix + "/login") {
			t.Fatalf("accepted auth prefix %q", cf.f.AuthPrefix)
		}
	})
}
