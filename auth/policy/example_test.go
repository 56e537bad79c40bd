package policy_test

import (
	"context"
	"fmt"

	"github.com/hipaakit/hipaakit/auth/policy"
)

// Roles, permissions and tenant policies load from a JSON or YAML file that
// is validated as a whole.
func ExampleParse() {
	p, err := policy.Parse([]byte(`
version: 1
permissions: [patient:read, patient:write]
roles:
  - name: physician
    permissions: [patient:read, patient:write]
  - name: er_override
    emergency: true
    eligible_roles: [physician]
    max_duration: 30m
    permissions: [patient:read]
tenants:
  - tenant_id: clinic-a
    require_mfa: true
    idle_timeout: 30m
`))
	if err != nil {
		panic(err)
	}
	_, ok := p.RBAC.Allows([]string{"physician"}, "", "patient:write")
	tp, _ := p.Tenants.TenantPolicy(context.Background(), "clinic-a")
	fmt.Println(ok, tp.RequireMFA, tp.IdleTimeout)

	_, err = policy.Parse([]byte(`{"version":1,"permissions":[],"roles":[{"name":"x","permissions":["patient:delete"]}]}`))
	fmt.Println(err)
	// Output:
	// true true 30m0s
	// auth/policy: invalid policy: role x names an undeclared permission
}
