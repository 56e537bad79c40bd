package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// policySeed parses the policy document of the FuzzParsePolicy seed name.
func policySeed(t *testing.T, name string) (string, *File) {
	t.Helper()
	b, err := os.ReadFile("testdata/fuzz/FuzzParse/" + name)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	doc = doc[strings.Index(doc, "(")+2 : strings.LastIndex(doc, ")")-1]
	doc = strings.ReplaceAll(doc, `\n`, "\n")
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return doc, p
}

func TestPolicyFileMaxSessionsPerUser(t *testing.T) {
	doc, p := policySeed(t, "session_cap")
	tp, _ := p.Tenants.TenantPolicy(t.Context(), "clinic-a")
	if tp.MaxSessionsPerUser != 3 {
		t.Fatalf("max_sessions_per_user: %d, want 3", tp.MaxSessionsPerUser)
	}
	for _, bad := range []string{"-1", "1001"} {
		_, err := Parse([]byte(strings.Replace(doc, "max_sessions_per_user: 3", "max_sessions_per_user: "+bad, 1)))
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("max_sessions_per_user %s: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestPolicyFileAdminLimits(t *testing.T) {
	doc, p := policySeed(t, "admin_limits")
	tp, _ := p.Tenants.TenantPolicy(t.Context(), "clinic-a")
	if !tp.ApprovePHIGrants || tp.EmergencyReasonMinChars != 30 || tp.EmergencyReasonMinWords != 4 || tp.MaxEmergenciesPerDay != 2 {
		t.Fatalf("tenant policy: %+v", tp)
	}
	if _, err := Parse([]byte(strings.Replace(doc, "max_emergencies_per_day: 2", "max_emergencies_per_day: -2", 1))); err == nil {
		t.Fatal("a negative cap was accepted")
	}
}

func TestPolicyFilePasskeys(t *testing.T) {
	doc, p := policySeed(t, "passkeys")
	tp, _ := p.Tenants.TenantPolicy(t.Context(), "clinic-a")
	if !tp.PasskeySecondFactor || tp.PasskeyUserVerification != UserVerificationPreferred || len(tp.PasskeyRoles) != 1 {
		t.Fatalf("tenant policy: %+v", tp)
	}
	def, _ := p.Tenants.TenantPolicy(t.Context(), "other")
	if def.PasskeySecondFactor || def.PasskeyUserVerification != "" {
		t.Fatalf("default policy: %+v", def)
	}
	_, err := Parse([]byte(strings.Replace(doc, "passkey_user_verification: preferred", "passkey_user_verification: discouraged", 1)))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("user verification discouraged: %v, want ErrInvalid", err)
	}
}
