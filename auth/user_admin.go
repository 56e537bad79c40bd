package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/password"
)

// NewUser describes a user to create.
type NewUser struct {
	TenantID string
	// Name is the login name; it is canonicalised (CanonicalName).
	Name  string
	Roles []string
	// Admin creates an administrative identity (see User).
	Admin bool
	// Password is optional: empty creates a user who cannot log in with a
	// password until one is set (SetPassword). A password is checked
	// against the tenant's password policy without MFA (the user has none
	// yet).
	Password string
}

// String redacts the password.
func (n NewUser) String() string {
	return fmt.Sprintf("auth.NewUser{TenantID:%s Name:%q Roles:%v Admin:%t Password:[redacted]}", n.TenantID, n.Name, n.Roles, n.Admin)
}

// GoString redacts the password.
func (n NewUser) GoString() string { return n.String() }

// CreateUser creates an active user with a fresh ID, audited as
// user_changed/"created" by actor. A refused password returns a
// *password.Error.
func (a *authenticator) CreateUser(ctx context.Context, n NewUser, actor audit.Actor, origin audit.Origin) (*User, error) {
	name, err := CanonicalName(n.Name)
	if err != nil {
		return nil, err
	}
	now := a.storeNow()
	u := &User{ID: NewUserID(), TenantID: n.TenantID, Name: name, Status: StatusActive,
		Roles: normalizeRoles(n.Roles), Admin: n.Admin, CreatedAt: now, UpdatedAt: now}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if err := a.checkRoles(u.Admin, u.Roles); err != nil {
		return nil, err
	}
	if n.Password != "" {
		enc, err := a.checkAndHash(ctx, u, n.Password, false)
		if err != nil {
			return nil, err
		}
		u.PasswordHash, u.PasswordChangedAt = enc, now
	}
	if err := a.users.Create(ctx, u); err != nil {
		return nil, err
	}
	if err := a.record(ctx, a.userEvent(audit.ActionUserChanged, "created", u, actor, origin)); err != nil {
		return nil, err
	}
	return u.Clone(), nil
}

func (a *authenticator) userEvent(action audit.Action, reason string, u *User, actor audit.Actor, origin audit.Origin) audit.Event {
	return audit.Event{Action: action, Outcome: audit.OutcomeSuccess, Reason: reason, Actor: actor, Origin: origin,
		Target: audit.Target{RecordType: "user", RecordID: u.ID}}
}

// checkAndHash checks password against the tenant's policy and u's context
// words, then hashes it.
func (a *authenticator) checkAndHash(ctx context.Context, u *User, pw string, mfa bool) (string, error) {
	pol, err := a.PasswordPolicyFor(ctx, u.TenantID)
	if err != nil {
		return "", err
	}
	if err := pol.Check(pw, password.Context{UserName: u.Name, TenantID: u.TenantID, MFA: mfa}); err != nil {
		return "", err
	}
	return a.hasher.Hash(ctx, pw)
}

// checkRoles enforces Config.AdminRoles: administrative roles only on
// administrative identities, nothing else on them, and never a role of
// Config.PHIRoles.
func (a *authenticator) checkRoles(admin bool, roles []string) error {
	if len(a.cfg.AdminRoles) == 0 {
		return nil
	}
	for _, r := range roles {
		if admin && slices.Contains(a.cfg.PHIRoles, r) {
			return fmt.Errorf("%w: an administrative identity cannot hold a role that reads PHI", ErrInvalidUser)
		}
		if slices.Contains(a.cfg.AdminRoles, r) != admin {
			if admin {
				return fmt.Errorf("%w: an administrative identity holds only administrative roles", ErrInvalidUser)
			}
			return fmt.Errorf("%w: administrative roles need a separate administrative identity", ErrInvalidUser)
		}
	}
	return nil
}

// SetStatus changes a user's status. Disabling or removing a user ends
// every session of the user at once (Config.Sessions); removal is final and
// erases the user's password hash, TOTP secret and recovery codes.
// Audited as user_changed with reason "active", "disabled" or "removed".
// The actor cannot change its own status (refusal "self_administration") nor
// disable or remove the tenant's last administrator (refusal "last_administrator");
// both refusals are audited.
func (a *authenticator) SetStatus(ctx context.Context, userID string, status Status, actor audit.Actor, origin audit.Origin) error {
	if !status.Valid() {
		return fmt.Errorf("%w: unknown status", ErrInvalidUser)
	}
	if err := a.refuseSelf(ctx, audit.ActionUserChanged, userID, actor, origin); err != nil {
		return err
	}
	set := func(st Status) func(u *User) error {
		return func(u *User) error {
			u.Status = st
			if st == StatusRemoved {
				// Removal is final: the credentials can never be used
				// again, so they are not kept.
				u.PasswordHash, u.MFA, u.RoleRequest, u.Passkeys = "", MFA{}, nil, nil
			}
			return nil
		}
	}
	var u *User
	var err error
	if status == StatusRemoved {
		// An administrator is disabled first: that step can be undone if
		// it took the last administrator; removal cannot.
		_, err = a.modifyKeepingAdmin(ctx, userID, func(u *User) error {
			if a.isAdministrator(u) {
				u.Status = StatusDisabled
			}
			return nil
		})
	}
	if err == nil {
		u, err = a.modifyKeepingAdmin(ctx, userID, set(status))
	}
	if errors.Is(err, errLastAdministrator) {
		return a.refuse(ctx, audit.ActionUserChanged, "last_administrator", userID, actor, origin, err)
	}
	if err != nil {
		return err
	}
	if err := a.record(ctx, a.userEvent(audit.ActionUserChanged, string(status), u, actor, origin)); err != nil {
		return err
	}
	if status != StatusActive {
		return a.revoke(ctx, u.ID, "")
	}
	return nil
}

// SetRoles replaces a user's roles (sorted, deduplicated); the session
// middleware reads them at the next request. Audited as role_changed. The
// actor cannot change its own roles (refusal "self_administration") nor take the
// last administrator's administrative roles (refusal "last_administrator"). When
// the tenant policy sets ApprovePHIGrants and the change grants a role of
// Config.PHIRoles, nothing changes yet: the roles are stored as the user's
// RoleRequest (audited role_changed/"approval_requested") and SetRoles
// returns refusal "approval_pending"; ApproveRoles applies them.
func (a *authenticator) SetRoles(ctx context.Context, userID string, roles []string, actor audit.Actor, origin audit.Origin) error {
	if err := a.refuseSelf(ctx, audit.ActionRoleChanged, userID, actor, origin); err != nil {
		return err
	}
	roles = normalizeRoles(roles)
	cur, err := a.users.Get(ctx, userID)
	if err != nil {
		return err
	}
	tp, err := a.tenantPolicy(ctx, cur.TenantID)
	if err != nil {
		return err
	}
	if tp.ApprovePHIGrants && a.grantsPHI(cur.Roles, roles) {
		return a.requestRoles(ctx, userID, roles, actor, origin)
	}
	u, err := a.modifyKeepingAdmin(ctx, userID, func(u *User) error {
		if u.Status == StatusRemoved {
			return errUserInactive
		}
		if tp.ApprovePHIGrants && a.grantsPHI(u.Roles, roles) {
			return ErrVersionConflict // changed since read: the caller retries
		}
		u.Roles = roles
		return a.checkRoles(u.Admin, u.Roles)
	})
	if errors.Is(err, errLastAdministrator) {
		return a.refuse(ctx, audit.ActionRoleChanged, "last_administrator", userID, actor, origin, err)
	}
	if err != nil {
		return err
	}
	ev := a.userEvent(audit.ActionRoleChanged, "", u, actor, origin)
	ev.Attrs = map[string]string{"roles": fmt.Sprint(u.Roles)}
	return a.record(ctx, ev)
}

// ChangePasswordRequest is a user changing their own password.
type ChangePasswordRequest struct {
	UserID          string
	CurrentPassword string
	NewPassword     string
	// KeepSessionID, when set, is the session the change was made from; the
	// user's other sessions end.
	KeepSessionID string
	ClientKey     string
	Origin        audit.Origin
}

// String redacts the passwords.
func (r ChangePasswordRequest) String() string {
	return "auth.ChangePasswordRequest{UserID:" + r.UserID + " [redacted]}"
}

// GoString redacts the passwords.
func (r ChangePasswordRequest) GoString() string { return r.String() }

// ChangePassword verifies the current password (a failure counts toward
// lockout and returns ErrInvalidCredentials), checks the new one against the
// policy (a *password.Error), stores its hash and ends the user's other
// sessions. Audited as password_changed.
func (a *authenticator) ChangePassword(ctx context.Context, req ChangePasswordRequest) error {
	u, err := a.users.Get(ctx, req.UserID)
	if err != nil {
		return err
	}
	actor := audit.Actor{UserID: u.ID, TenantID: u.TenantID, SessionID: req.KeepSessionID}
	usable := u.Active() && !u.Lockout.Locked() && len(req.CurrentPassword) <= password.MaxBytes
	hash := ""
	if usable {
		hash = u.PasswordHash
	}
	ok, _, verr := a.hasher.Verify(ctx, req.CurrentPassword, hash)
	if verr != nil && ctx.Err() != nil {
		return verr
	}
	if !ok || !usable {
		if !usable {
			return a.failure(ctx, "", req.ClientKey, audit.Event{Action: audit.ActionPasswordChanged, Actor: actor, Origin: req.Origin}, "user_inactive")
		}
		return a.failure(ctx, u.ID, req.ClientKey, audit.Event{Action: audit.ActionPasswordChanged, Actor: actor, Origin: req.Origin}, "wrong_password")
	}
	return a.setPassword(ctx, u, req.NewPassword, req.KeepSessionID, actor, req.Origin, "changed")
}

// SetPassword sets a user's password as an administrator's reset: the new
// password is checked against the policy, every session of the user ends,
// and the lockout counter is cleared. Audited as password_changed/"reset".
// The actor cannot reset its own password (refusal "self_administration"; users
// use ChangePassword).
func (a *authenticator) SetPassword(ctx context.Context, userID, password string, actor audit.Actor, origin audit.Origin) error {
	if err := a.refuseSelf(ctx, audit.ActionPasswordChanged, userID, actor, origin); err != nil {
		return err
	}
	u, err := a.users.Get(ctx, userID)
	if err != nil {
		return err
	}
	return a.setPassword(ctx, u, password, "", actor, origin, "reset")
}

func (a *authenticator) setPassword(ctx context.Context, u *User, password, keep string, actor audit.Actor, origin audit.Origin, reason string) error {
	if u.Status == StatusRemoved {
		return errUserInactive
	}
	enc, err := a.checkAndHash(ctx, u, password, u.MFA.TOTPActive)
	if err != nil {
		return err
	}
	now := a.storeNow()
	u, err = a.modify(ctx, u.ID, func(u *User) error {
		if u.Status == StatusRemoved {
			return errUserInactive
		}
		u.PasswordHash, u.PasswordChangedAt = enc, now
		if reason == "reset" {
			u.Lockout = LockoutState{}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := a.record(ctx, a.userEvent(audit.ActionPasswordChanged, reason, u, actor, origin)); err != nil {
		return err
	}
	return a.revoke(ctx, u.ID, keep)
}

// Unlock re-enables a locked account's authenticators and clears its
// failure counter (an administrator's action). Audited as lockout/"unlocked".
// The actor cannot unlock itself (refusal "self_administration").
func (a *authenticator) Unlock(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) error {
	if err := a.refuseSelf(ctx, audit.ActionLockout, userID, actor, origin); err != nil {
		return err
	}
	u, err := a.modify(ctx, userID, func(u *User) error {
		u.Lockout = LockoutState{}
		return nil
	})
	if err != nil {
		return err
	}
	return a.record(ctx, a.userEvent(audit.ActionLockout, "unlocked", u, actor, origin))
}
