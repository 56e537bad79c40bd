package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth/policy"
)

func TestPermissionValid(t *testing.T) {
	for p, want := range map[policy.Permission]bool{
		"patient:read": true, "lab_result:update": true, "a.b-c:d_e": true, "x1:y2": true,
		"": false, "patient": false, ":read": false, "patient:": false, "a:b:c": false,
		"Patient:read": false, "patient read": false, "*:*": false, "patient:*": false,
		policy.Permission(strings.Repeat("a", 70) + ":" + strings.Repeat("b", 70)): false,
	} {
		if got := p.Valid(); got != want {
			t.Errorf("Permission(%q).Valid() = %v, want %v", p, got, want)
		}
	}
}

func TestPolicyFileJSONAndYAMLAgree(t *testing.T) {
	for _, name := range []string{"policy_v1.json", "policy_v1.yaml"} {
		t.Run(name, func(t *testing.T) {
			p := loadFile(t, name)
			r := p.RBAC
			if got := strings.Join(r.Roles(), ","); got != "er_override,lab_assistant,mobile_worker,physician,privacy_officer" {
				t.Fatalf("roles: %s", got)
			}
			if role, ok := r.Allows([]string{"lab_assistant"}, "", "lab_result:update"); !ok || role != "lab_assistant" {
				t.Fatal("lab assistant cannot update lab results")
			}
			if _, ok := r.Allows([]string{"lab_assistant"}, "", "patient:read"); ok {
				t.Fatal("lab assistant may read patients")
			}
			er, ok := r.Role("er_override")
			if !ok || !er.Emergency || er.MaxDuration != time.Hour || er.EligibleRoles[0] != "physician" {
				t.Fatalf("emergency role: %+v", er)
			}
			tp, err := p.Tenants.TenantPolicy(context.Background(), "clinic-a")
			if err != nil || !tp.RequireMFA || tp.IdleTimeout != 30*time.Minute || tp.AbsoluteTimeout != 8*time.Hour ||
				tp.ReauthAfter != 5*time.Minute || tp.PasswordPolicy != "nist-800-63b" || !tp.AllowsRecovery(policy.RecoveryCodes) || tp.AllowsRecovery(policy.RecoveryAdminReset) {
				t.Fatalf("tenant policy: %v %+v", err, tp)
			}
			def, _ := p.Tenants.TenantPolicy(context.Background(), "other")
			if def.RequireMFA || def.IdleTimeout != 15*time.Minute || def.TenantID != "other" {
				t.Fatalf("default tenant policy: %+v", def)
			}
		})
	}
}

func TestPolicyFileValidation(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "policy_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ from, to string }{
		"unknown permission":      {`{"name": "lab_assistant", "permissions": ["lab_result:update"]}`, `{"name": "lab_assistant", "permissions": ["lab_result:delete"]}`},
		"unknown eligible role":   {`"eligible_roles": ["physician"]`, `"eligible_roles": ["surgeon"]`},
		"emergency eligible":      {`"eligible_roles": ["physician"]`, `"eligible_roles": ["er_override"]`},
		"no eligible roles":       {`"eligible_roles": ["physician"], `, ``},
		"malformed permission":    {`"user:manage"]`, `"User Manage"]`},
		"duplicate role":          {`{"name": "mobile_worker"`, `{"name": "physician"`},
		"duplicate permission":    {`"user:manage"],`, `"user:manage", "patient:read"],`},
		"bad duration":            {`"idle_timeout": "30m"`, `"idle_timeout": "half an hour"`},
		"too short":               {`"idle_timeout": "30m"`, `"idle_timeout": "5s"`},
		"too long emergency":      {`"max_duration": "1h"`, `"max_duration": "48h"`},
		"unknown field":           {`"version": 1,`, `"version": 1, "superuser": true,`},
		"version":                 {`"version": 1,`, `"version": 2,`},
		"unknown recovery":        {`["recovery_code"]`, `["sms"]`},
		"duplicate tenant":        {`"tenants": [`, `"tenants": [{"tenant_id": "clinic-a"},`},
		"emergency on plain role": {`{"name": "mobile_worker", `, `{"name": "mobile_worker", "max_duration": "1h", `},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(string(good), c.from) {
				t.Fatalf("test case does not apply: %q not in policy", c.from)
			}
			bad := strings.Replace(string(good), c.from, c.to, 1)
			_, err := policy.Parse([]byte(bad))
			if !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalidPolicy", err)
			}
		})
	}
	if _, err := policy.Parse(good); err != nil {
		t.Fatalf("the unmodified policy must load: %v", err)
	}
	for name, doc := range map[string]string{
		"yaml garbage":    "version: [1\n",
		"empty":           "",
		"trailing":        string(good) + "{}",
		"non-string keys": "version: 1\n1: 2\n",
	} {
		if _, err := policy.Parse([]byte(doc)); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalidPolicy", name, err)
		}
	}
}

func TestRBACInGo(t *testing.T) {
	r, err := policy.NewRBAC([]policy.Permission{"patient:read", "patient:write"}, []policy.Role{
		{Name: "nurse", Permissions: []policy.Permission{"patient:read"}},
		{Name: "break_glass", Emergency: true, EligibleRoles: []string{"nurse"}, Permissions: []policy.Permission{"patient:write"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if role, _ := r.Role("break_glass"); role.MaxDuration != time.Hour {
		t.Fatalf("emergency default duration: %v", role.MaxDuration)
	}
	if _, ok := r.Allows([]string{"nurse", "break_glass"}, "", "patient:write"); ok {
		t.Fatal("an assigned emergency role granted a permission without elevation")
	}
	if _, ok := r.Allows([]string{"nurse", "break_glass"}, "break_glass", "patient:write"); !ok {
		t.Fatal("an active emergency role did not grant its permission")
	}
	if _, ok := r.Allows([]string{"ghost"}, "", "patient:read"); ok {
		t.Fatal("an undefined role granted a permission")
	}
	if err := r.CheckAssignable([]string{"nurse"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"ghost"}, {"break_glass"}} {
		if err := r.CheckAssignable(bad); !errors.Is(err, policy.ErrInvalid) {
			t.Fatalf("CheckAssignable(%v): %v", bad, err)
		}
	}
	if _, err := policy.NewRBAC(nil, []policy.Role{{Name: "has space"}}); !errors.Is(err, policy.ErrInvalid) {
		t.Fatal("malformed role name accepted")
	}
}

func loadFile(t *testing.T, name string) *policy.File {
	t.Helper()
	p, err := policy.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return p
}
