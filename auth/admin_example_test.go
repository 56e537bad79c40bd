package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

// A grant of a PHI-reading role waits for a second administrator.
func ExampleAuthenticator_ApproveRoles() {
	ctx := context.Background()
	tenants, err := auth.NewTenantPolicies(auth.TenantPolicy{ApprovePHIGrants: true})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.NewAuthenticator(auth.Config{Users: auth.NewMemoryUserStore(), Audit: audit.Discard{}, Tenants: tenants, AdminRoles: []string{"admin"}, PHIRoles: []string{"physician"}}, auth.NoSessions)
	if err != nil {
		log.Fatal(err)
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
	fmt.Println("own roles:", errors.Is(err, auth.ErrSelfAdministration))
	err = a.SetRoles(ctx, lee.ID, []string{"physician"}, asActor(ada), audit.Origin{})
	fmt.Println("pending:", errors.Is(err, auth.ErrApprovalPending))
	err = a.ApproveRoles(ctx, lee.ID, asActor(ada), audit.Origin{})
	fmt.Println("requester approves:", errors.Is(err, auth.ErrSecondApproverRequired))
	fmt.Println("second administrator approves:", a.ApproveRoles(ctx, lee.ID, asActor(bea), audit.Origin{}))
	// Output:
	// own roles: true
	// pending: true
	// requester approves: true
	// second administrator approves: <nil>
}
