package suite

import (
	"errors"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

func testRBAC(t *testing.T) *policy.RBAC {
	t.Helper()
	rbac, err := policy.NewRBAC([]policy.Permission{"chart:read", "schedule:read"}, []policy.Role{
		{Name: "physician", Permissions: []policy.Permission{"chart:read", "schedule:read"}},
		{Name: "frontdesk", Permissions: []policy.Permission{"schedule:read"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rbac
}

// TestRoutesFrom: the Guard's list becomes Service.Routes with the roles
// from the RBAC policy and only the per-route test data added.
func TestRoutesFrom(t *testing.T) {
	served := []auth.Route{{Pattern: "GET /patients/{id}", Permission: "chart:read", PHI: true}, {Pattern: "GET /schedule", Permission: "schedule:read"}}
	roles := []string{"physician", "frontdesk"}
	got, err := RoutesFrom(served, testRBAC(t), roles, map[string]RouteData{"GET /patients/{id}": {Path: "/patients/p-1", Subject: "p-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != "/patients/p-1" || !got[0].PHI || got[0].Subject != "p-1" || strings.Join(got[0].Roles, ",") != "physician" ||
		got[1].Path != "/schedule" || got[1].PHI || strings.Join(got[1].Roles, ",") != "physician,frontdesk" {
		t.Fatalf("RoutesFrom = %+v", got)
	}
	for name, data := range map[string]map[string]RouteData{
		"GET /patients/{id} has wildcards: give its concrete Path": nil,
		"data for routes the Guard does not serve: GET /old":       {"GET /patients/{id}": {Path: "/patients/p-1"}, "GET /old": {}},
	} {
		if _, err := RoutesFrom(served, testRBAC(t), roles, data); !errors.Is(err, ErrRoutes) || !strings.Contains(err.Error(), name) {
			t.Errorf("got %v, want ErrRoutes with %q", err, name)
		}
	}
}
