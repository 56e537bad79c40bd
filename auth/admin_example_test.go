package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// A grant of a PHI-reading role waits for a second administrator.
func ExampleService_ApproveRoles() {
	ctx := context.Background()
	tenants, err := policy.NewTenants(policy.Tenant{ApprovePHIGrants: true})
	if err != nil {
		log.Fatal(err)
	}
	a := exampleService(memstore.NewUserStore(), func(c *auth.Config) {
		c.Tenants, c.AdminRoles, c.PHIRoles = tenants, []string{"admin"}, []string{"physician"}
	})
	// Refusals are *auth.RefusedError values whose Reason says which rule.
	reason := func(err error) string {
		var r *auth.RefusedError
		if errors.As(err, &r) {
			return r.Reason
		}
		return fmt.Sprint(err)
	}
	seed := audit.Actor{UserID: "provisioning-job"}
	newUser := func(name, role string, admin bool) *auth.User {
		u, err := a.CreateUser(ctx, auth.NewUser{TenantID: "clinic-1", Name: name, Roles: []string{role}, Admin: admin}, seed, audit.Origin{})
		if err != nil {
			log.Fatal(err)
		}
		return u
	}
	ada, bea := newUser("ada", "admin", true), newUser("bea", "admin", true)
	lee := newUser("lee", "lab", false)
	asActor := func(u *auth.User) audit.Actor { return audit.Actor{UserID: u.ID, TenantID: u.TenantID} }

	err = a.SetRoles(ctx, ada.ID, []string{"admin", "physician"}, asActor(ada), audit.Origin{})
	fmt.Println("own roles:", reason(err))
	err = a.SetRoles(ctx, lee.ID, []string{"physician"}, asActor(ada), audit.Origin{})
	fmt.Println("PHI grant:", reason(err))
	err = a.ApproveRoles(ctx, lee.ID, asActor(ada), audit.Origin{})
	fmt.Println("requester approves:", reason(err))
	fmt.Println("second administrator approves:", a.ApproveRoles(ctx, lee.ID, asActor(bea), audit.Origin{}))
	// Output:
	// own roles: self_administration
	// PHI grant: approval_pending
	// requester approves: second_administrator_required
	// second administrator approves: <nil>
}
