package auth

import (
	"errors"
	"net/http"
	"time"

	"github.com/hipaakit/hipaakit/auth/policy"
)

// Administrative handlers. They act on the user named by the path value
// "id", which must belong to the caller's tenant (otherwise 404, so tenants
// cannot probe each other's user IDs). Register them on the Guard with an
// administrative permission, preferably Sensitive:
//
//	guard.HandleFunc("PUT /admin/users/{id}/roles", "user:manage", h.SetRoles, auth.Sensitive())
//	guard.HandleFunc("PUT /admin/users/{id}/status", "user:manage", h.SetStatus, auth.Sensitive())
//	guard.HandleFunc("POST /admin/users/{id}/unlock", "user:manage", h.Unlock, auth.Sensitive())
//	guard.HandleFunc("POST /admin/users/{id}/reset-mfa", "user:manage", h.ResetMFA, auth.Sensitive())
//	guard.HandleFunc("PUT /admin/users/{id}/password", "user:manage", h.SetPassword, auth.Sensitive())
//	guard.HandleFunc("POST /admin/users/{id}/roles/approve", "user:manage", h.ApproveRoles, auth.Sensitive())
//	guard.HandleFunc("GET /admin/role-requests", "user:manage", h.RoleRequests)
//
// No handler lets the caller act on itself (403 "self_administration"), the
// tenant's last administrator cannot be disabled, removed or demoted (409
// "last_administrator"), and role grants that need a second administrator
// answer 202 {"status": "pending"} (see Authenticator.SetRoles).

type rolesBody struct {
	Roles []string `json:"roles"`
}

type statusBody struct {
	Status Status `json:"status"`
}

type adminPasswordBody struct {
	Password string `json:"password"`
}

// adminTarget returns the caller and checks that the target user is in the
// caller's tenant.
func (h *endpoints) adminTarget(w http.ResponseWriter, r *http.Request, v any) (*requestState, string, bool) {
	st, ok := h.sessionAndBody(w, r, v)
	if !ok {
		return nil, "", false
	}
	id := r.PathValue("id")
	u, err := h.sm.users.Get(r.Context(), id)
	if errors.Is(err, ErrUserNotFound) || (err == nil && u.TenantID != st.p.TenantID) {
		writeError(w, http.StatusNotFound, codeNotFound)
		return nil, "", false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, "", false
	}
	return st, id, true
}

// SetRoles answers {"roles": [...]}: it replaces the user's roles. Every
// role must be defined by the Guard's RBAC policy and assignable (emergency
// roles are not); otherwise 400 "unknown_role" and nothing changes. The
// change is audited (role_changed) and applies at the user's next request.
// It needs the Handlers to have a Guard.
func (h *endpoints) SetRoles(w http.ResponseWriter, r *http.Request) {
	var b rolesBody
	st, id, ok := h.adminTarget(w, r, &b)
	if !ok {
		return
	}
	if h.guard == nil {
		h.fail(w, r, errors.New("auth: SetRoles needs a Guard"))
		return
	}
	for _, role := range b.Roles {
		if !policy.ValidRole(role) {
			writeError(w, http.StatusBadRequest, "unknown_role")
			return
		}
	}
	if err := h.guard.RBAC().CheckAssignable(b.Roles); err != nil {
		writeError(w, http.StatusBadRequest, "unknown_role")
		return
	}
	err := h.auth.SetRoles(r.Context(), id, b.Roles, st.p.Actor(), h.sm.origin(r))
	if errors.Is(err, errApprovalPending) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "pending"})
		return
	}
	h.adminDone(w, r, err)
}

// ApproveRoles answers {}: it applies the user's pending role request
// (Authenticator.ApproveRoles). The approver must be another administrator
// than the requester (403 "second_administrator_required"); without a
// request it answers 404 "no_role_request".
func (h *endpoints) ApproveRoles(w http.ResponseWriter, r *http.Request) {
	var b struct{}
	st, id, ok := h.adminTarget(w, r, &b)
	if !ok {
		return
	}
	if h.guard == nil {
		h.fail(w, r, errors.New("auth: ApproveRoles needs a Guard"))
		return
	}
	// The policy may have changed since the request: check again.
	u, err := h.sm.users.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if u.RoleRequest != nil && h.guard.RBAC().CheckAssignable(u.RoleRequest.Roles) != nil {
		writeError(w, http.StatusBadRequest, "unknown_role")
		return
	}
	h.adminDone(w, r, h.auth.ApproveRoles(r.Context(), id, st.p.Actor(), h.sm.origin(r)))
}

// RejectRoles discards the pending role request of user {id} (POST, no
// body fields): 204, 404 "no_role_request" without one.
func (h *endpoints) RejectRoles(w http.ResponseWriter, r *http.Request) {
	var b struct{}
	st, id, ok := h.adminTarget(w, r, &b)
	if !ok {
		return
	}
	h.adminDone(w, r, h.auth.RejectRoles(r.Context(), id, st.p.Actor(), h.sm.origin(r)))
}

// roleRequestView is one pending role request as RoleRequests shows it.
type roleRequestView struct {
	UserID      string   `json:"user_id"`
	Name        string   `json:"name"`
	Roles       []string `json:"current_roles"`
	Requested   []string `json:"requested_roles"`
	RequestedBy string   `json:"requested_by"`
	RequestedAt string   `json:"requested_at"`
}

// RoleRequests answers the pending role requests of the caller's tenant.
func (h *endpoints) RoleRequests(w http.ResponseWriter, r *http.Request) {
	p, ok := PrincipalFromContext(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
		return
	}
	us, err := h.auth.RoleRequests(r.Context(), p.TenantID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]roleRequestView, 0, len(us))
	for _, u := range us {
		out = append(out, roleRequestView{UserID: u.ID, Name: u.Name, Roles: u.Roles, Requested: u.RoleRequest.Roles,
			RequestedBy: u.RoleRequest.RequestedBy, RequestedAt: u.RoleRequest.RequestedAt.UTC().Format(time.RFC3339)})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// SetStatus answers {"status": "active" | "disabled" | "removed"}.
// Disabling or removing a user ends all of the user's sessions at once.
// Audited (user_changed).
func (h *endpoints) SetStatus(w http.ResponseWriter, r *http.Request) {
	var b statusBody
	st, id, ok := h.adminTarget(w, r, &b)
	if !ok {
		return
	}
	if !b.Status.Valid() {
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	h.adminDone(w, r, h.auth.SetStatus(r.Context(), id, b.Status, st.p.Actor(), h.sm.origin(r)))
}

// Unlock answers {}: it clears the user's lockout (consecutive failures and
// the lock), so the account's password login works again. Audited.
func (h *endpoints) Unlock(w http.ResponseWriter, r *http.Request) {
	var b struct{}
	st, id, ok := h.adminTarget(w, r, &b)
	if !ok {
		return
	}
	h.adminDone(w, r, h.auth.Unlock(r.Context(), id, st.p.Actor(), h.sm.origin(r)))
}

// ResetMFA answers {}: it removes the user's second factor and recovery
// codes, so the user enrols again at the next login. The tenant policy must
// allow administrator resets (otherwise 403 "recovery_not_allowed"). Audited.
func (h *endpoints) ResetMFA(w http.ResponseWriter, r *http.Request) {
	var b struct{}
	st, id, ok := h.adminTarget(w, r, &b)
	if !ok {
		return
	}
	h.adminDone(w, r, h.auth.AdminResetMFA(r.Context(), id, st.p.Actor(), h.sm.origin(r)))
}

// SetPassword answers {"password": "..."}: it sets a password the
// administrator chose (checked against the tenant's password policy; a
// refusal is 400 "password_rejected" with the reason) and ends the user's
// sessions. Audited, never with the password.
func (h *endpoints) SetPassword(w http.ResponseWriter, r *http.Request) {
	var b adminPasswordBody
	st, id, ok := h.adminTarget(w, r, &b)
	if !ok {
		return
	}
	h.adminDone(w, r, h.auth.SetPassword(r.Context(), id, b.Password, st.p.Actor(), h.sm.origin(r)))
}

// adminDone answers an administrative change: 204, or the refusal.
func (h *endpoints) adminDone(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		h.adminFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// adminFail answers a refused administrative change: the target user's
// state forbids it (409) or the request breaks a user rule (400).
func (h *endpoints) adminFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errUserInactive):
		writeError(w, http.StatusConflict, "user_inactive")
	case errors.Is(err, ErrUserExists):
		writeError(w, http.StatusConflict, "user_exists")
	case errors.Is(err, ErrInvalidUser):
		writeError(w, http.StatusBadRequest, "invalid_user")
	case errors.Is(err, errRecoveryNotAllowed):
		writeError(w, http.StatusForbidden, "recovery_not_allowed")
	case errors.Is(err, errSelfAdministration):
		writeError(w, http.StatusForbidden, "self_administration")
	case errors.Is(err, errSecondApproverRequired):
		writeError(w, http.StatusForbidden, "second_administrator_required")
	case errors.Is(err, errLastAdministrator):
		writeError(w, http.StatusConflict, "last_administrator")
	case errors.Is(err, errNoRoleRequest):
		writeError(w, http.StatusNotFound, "no_role_request")
	case errors.Is(err, ErrVersionConflict):
		writeError(w, http.StatusConflict, "conflict")
	default:
		h.fail(w, r, err)
	}
}
