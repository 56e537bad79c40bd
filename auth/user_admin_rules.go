package auth

// # Separation of duties in user administration
//
// The administrative operations of the Authenticator (SetRoles, SetStatus,
// SetPassword, Unlock, AdminResetMFA, ApproveRoles) obey three rules:
//
//   - No identity administers itself: when the actor is the target user the
//     operation is refused with refusal "self_administration" (audited as a failure).
//     Users change their own password and second factor through the
//     self-service paths, which re-verify them.
//   - A tenant keeps an administrator: a change that would leave the
//     tenant without an active administrator (an active identity with the
//     Admin flag holding an administrative role, see isAdministrator) is
//     refused with refusal "last_administrator". In one process such changes are
//     serialised, so of two administrators disabling each other exactly one
//     succeeds. Across replicas, where the UserStore offers compare-and-swap
//     on one user only, the change is checked again after it is stored and
//     undone when no other administrator remains: the last change to commit
//     sees every earlier one, so concurrent changes may all be refused but
//     never all succeed. A removal first disables the user (which can be
//     undone) and removes only after the check. A process that crashes
//     between a change and its undoing can leave the tenant without an
//     administrator; recover with a direct store update.
//   - PHI-reading roles (Config.PHIRoles) are never held by an
//     administrative identity when Config.AdminRoles is set, and a tenant
//     policy with ApprovePHIGrants turns every grant of such a role into a
//     RoleRequest that a second administrator approves (ApproveRoles).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// Errors of the separation-of-duties rules.
var (
	// errSelfAdministration reports an administrative change an identity
	// tried to make to itself.
	errSelfAdministration = refusal("self_administration", "auth: an identity cannot administer itself")
	// errLastAdministrator reports a change that would leave a tenant
	// without an active administrator.
	errLastAdministrator = refusal("last_administrator", "auth: the last administrator of the tenant cannot be disabled, removed or demoted")
	// errApprovalPending reports a role change that was stored as a
	// RoleRequest for a second administrator to approve; nothing changed yet.
	errApprovalPending = refusal("approval_pending", "auth: role change waits for a second administrator's approval")
	// errNoRoleRequest reports an approval for a user without a pending
	// role request.
	errNoRoleRequest = refusal("no_role_request", "auth: no pending role request")
	// errSecondApproverRequired reports an approval by the administrator
	// who requested the change.
	errSecondApproverRequired = refusal("second_administrator_required", "auth: a role request needs another administrator's approval")
)

// RoleRequest is a pending role change (policy.Tenant.ApprovePHIGrants). It
// is stored with the user (User.RoleRequest), so that approving it is one
// compare-and-swap on the user.
type RoleRequest struct {
	// Roles are the roles the user gets when the request is approved.
	Roles []string `json:"roles"`
	// RequestedBy is the user ID of the requesting administrator.
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
}

func (r *RoleRequest) validate() error {
	if r == nil {
		return nil
	}
	if r.RequestedBy == "" || len(r.RequestedBy) > maxNameBytes || !policy.ValidName(r.RequestedBy, maxNameBytes) {
		return fmt.Errorf("%w: malformed role request", ErrInvalidUser)
	}
	if len(r.Roles) > maxRoles {
		return fmt.Errorf("%w: role request with more than %d roles", ErrInvalidUser, maxRoles)
	}
	for i, role := range r.Roles {
		if !policy.ValidRole(role) || (i > 0 && r.Roles[i-1] >= role) {
			return fmt.Errorf("%w: malformed role in role request", ErrInvalidUser)
		}
	}
	return nil
}

// refuseSelf refuses, audited as a failure of action, an administrative
// change actor makes to itself.
func (a *authenticator) refuseSelf(ctx context.Context, action audit.Action, userID string, actor audit.Actor, origin audit.Origin) error {
	if actor.UserID == "" || actor.UserID != userID {
		return nil
	}
	ev := a.userEvent(action, "self_administration", &User{ID: userID}, actor, origin)
	ev.Outcome = audit.OutcomeFailure
	if err := a.record(ctx, ev); err != nil {
		return err
	}
	return errSelfAdministration
}

// refuse records the failure of action on userID with reason and returns err.
func (a *authenticator) refuse(ctx context.Context, action audit.Action, reason, userID string, actor audit.Actor, origin audit.Origin, err error) error {
	ev := a.userEvent(action, reason, &User{ID: userID}, actor, origin)
	ev.Outcome = audit.OutcomeFailure
	if aerr := a.record(ctx, ev); aerr != nil {
		return aerr
	}
	return err
}

// isAdministrator reports whether u counts as an administrator of its
// tenant: active, an administrative identity, and holding an administrative
// role (any role when Config.AdminRoles is empty).
func (a *authenticator) isAdministrator(u *User) bool {
	if !u.Active() || !u.Admin {
		return false
	}
	if len(a.cfg.AdminRoles) == 0 {
		return len(u.Roles) > 0
	}
	for _, r := range u.Roles {
		if slices.Contains(a.cfg.AdminRoles, r) {
			return true
		}
	}
	return false
}

// otherAdministrator reports whether tenantID has an administrator other
// than userID.
func (a *authenticator) otherAdministrator(ctx context.Context, tenantID, userID string) (bool, error) {
	us, err := a.users.List(ctx, tenantID)
	if err != nil {
		return false, err
	}
	for _, u := range us {
		if u.ID != userID && a.isAdministrator(u) {
			return true, nil
		}
	}
	return false, nil
}

// modifyKeepingAdmin is modify for changes that may demote an
// administrator: when change turns an administrator into a
// non-administrator, another administrator must remain, checked before the
// change and again after it is stored (then the change is undone). Changes
// are serialised within the process.
func (a *authenticator) modifyKeepingAdmin(ctx context.Context, id string, change func(u *User) error) (*User, error) {
	a.adminMu.Lock()
	defer a.adminMu.Unlock()
	var prev *User
	u, err := a.modify(ctx, id, func(u *User) error {
		prev = nil
		before := a.isAdministrator(u)
		was := u.Clone()
		if err := change(u); err != nil {
			return err
		}
		if !before || a.isAdministrator(u) {
			return nil
		}
		if u.Status == StatusRemoved {
			return errors.New("auth: remove an administrator only once it is disabled")
		}
		ok, err := a.otherAdministrator(ctx, u.TenantID, u.ID)
		if err != nil {
			return err
		}
		if !ok {
			return errLastAdministrator
		}
		prev = was
		return nil
	})
	if err != nil || prev == nil {
		return u, err
	}
	// Another replica may have demoted the other administrators meanwhile.
	ok, err := a.otherAdministrator(ctx, u.TenantID, u.ID)
	if err == nil && ok {
		return u, nil
	}
	if _, rerr := a.modify(ctx, id, func(c *User) error {
		c.Status, c.Roles, c.Admin = prev.Status, prev.Roles, prev.Admin
		return nil
	}); rerr != nil {
		return nil, fmt.Errorf("auth: restore the last administrator: %w", rerr)
	}
	if err != nil {
		return nil, err
	}
	return nil, errLastAdministrator
}

// grantsPHI reports whether going from roles old to roles new grants a
// role of Config.PHIRoles.
func (a *authenticator) grantsPHI(old, new []string) bool {
	for _, r := range new {
		if slices.Contains(a.cfg.PHIRoles, r) && !slices.Contains(old, r) {
			return true
		}
	}
	return false
}

// requestRoles stores roles as u's pending RoleRequest, audited as
// role_changed/"approval_requested".
func (a *authenticator) requestRoles(ctx context.Context, userID string, roles []string, actor audit.Actor, origin audit.Origin) error {
	now := a.storeNow()
	u, err := a.modify(ctx, userID, func(u *User) error {
		if u.Status == StatusRemoved {
			return errUserInactive
		}
		if err := a.checkRoles(u.Admin, roles); err != nil {
			return err
		}
		u.RoleRequest = &RoleRequest{Roles: slices.Clone(roles), RequestedBy: actor.UserID, RequestedAt: now}
		return nil
	})
	if err != nil {
		return err
	}
	ev := a.userEvent(audit.ActionRoleChanged, "approval_requested", u, actor, origin)
	ev.Attrs = map[string]string{"roles": fmt.Sprint(roles)}
	if err := a.record(ctx, ev); err != nil {
		return err
	}
	return errApprovalPending
}

// ApproveRoles applies the pending RoleRequest of userID. actor must be an
// administrator other than the requester (refusal "second_administrator_required") and
// other than the user (refusal "self_administration"); without a request it returns
// errNoRoleRequest. Audited as role_changed/"approved", with the requester.
func (a *authenticator) ApproveRoles(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) error {
	if err := a.refuseSelf(ctx, audit.ActionRoleChanged, userID, actor, origin); err != nil {
		return err
	}
	var req RoleRequest
	u, err := a.modifyKeepingAdmin(ctx, userID, func(u *User) error {
		if u.RoleRequest == nil {
			return errNoRoleRequest
		}
		if u.RoleRequest.RequestedBy == actor.UserID {
			return errSecondApproverRequired
		}
		if u.Status == StatusRemoved {
			return errUserInactive
		}
		req = *u.RoleRequest
		u.Roles, u.RoleRequest = normalizeRoles(req.Roles), nil
		return a.checkRoles(u.Admin, u.Roles)
	})
	switch {
	case errors.Is(err, errSecondApproverRequired):
		return a.refuse(ctx, audit.ActionRoleChanged, "second_administrator_required", userID, actor, origin, err)
	case err != nil:
		return err
	}
	ev := a.userEvent(audit.ActionRoleChanged, "approved", u, actor, origin)
	ev.Attrs = map[string]string{"roles": fmt.Sprint(u.Roles), "requested_by": req.RequestedBy}
	return a.record(ctx, ev)
}

// RejectRoles discards the pending RoleRequest of userID, leaving the
// user's roles as they are. actor must not be the user
// (refusal "self_administration"); the requester may withdraw their own request.
// Without a request it returns refusal "no_role_request". Audited as
// role_changed/"rejected", with the requester and the refused roles.
func (a *authenticator) RejectRoles(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) error {
	if err := a.refuseSelf(ctx, audit.ActionRoleChanged, userID, actor, origin); err != nil {
		return err
	}
	var req RoleRequest
	u, err := a.modify(ctx, userID, func(u *User) error {
		if u.RoleRequest == nil {
			return errNoRoleRequest
		}
		req, u.RoleRequest = *u.RoleRequest, nil
		return nil
	})
	if err != nil {
		return err
	}
	ev := a.userEvent(audit.ActionRoleChanged, "rejected", u, actor, origin)
	ev.Attrs = map[string]string{"roles": fmt.Sprint(u.Roles), "requested_roles": fmt.Sprint(req.Roles), "requested_by": req.RequestedBy}
	return a.record(ctx, ev)
}

// RoleRequests returns the users of tenantID with a pending RoleRequest.
func (a *authenticator) RoleRequests(ctx context.Context, tenantID string) ([]*User, error) {
	us, err := a.users.List(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := us[:0]
	for _, u := range us {
		if u.RoleRequest != nil && u.Status != StatusRemoved {
			out = append(out, u)
		}
	}
	return out, nil
}
