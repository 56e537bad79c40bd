package main

import (
	"errors"
	"net/http"
	"slices"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// The administrator's pages: users (no PHI), legal holds and disposal,
// backups and the compliance report. Changes post to the JSON API
// (admin.go, auth.Service.AdminHandlers); the two endpoints the API
// lacked, creating a user and verifying a disposal certificate, are here.

// usersPage lists the tenant's users with what the administrator may do.
type usersPage struct {
	Users []userRow
	Roles []string // assignable roles
	Self  string
}

type userRow struct {
	userView
	Requested []string // a role change waiting for a second administrator
	Requester string
}

// pageUsers: GET /admin/users.
func (a *app) pageUsers(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFromContext(r.Context())
	us, err := a.d.Users.List(r.Context(), p.TenantID)
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	pg := usersPage{Self: p.UserID}
	names := a.names(r.Context())
	for _, u := range us {
		row := userRow{userView: userView{ID: u.ID, Name: u.Name, Roles: u.Roles, Status: string(u.Status), Admin: u.Admin,
			MFA: u.MFA.Enabled(), Locked: !u.Lockout.LockedAt.IsZero()}}
		if rr := u.RoleRequest; rr != nil {
			row.Requested, row.Requester = rr.Roles, names(rr.RequestedBy)
		}
		pg.Users = append(pg.Users, row)
	}
	rbac, _ := clinicRBAC()
	for _, name := range rbac.Roles() {
		if role, _ := rbac.Role(name); !role.Emergency && !slices.Contains(adminRoles, name) {
			pg.Roles = append(pg.Roles, name)
		}
	}
	a.render(w, r, 0, "users", "Users", pg, "")
}

// createUser: POST /api/admin/users {name, password, roles, admin} creates
// an active user who enrols an authenticator at the first sign-in. The
// roles go through SetRoles, so a PHI-reading role waits for a second
// administrator (202 {"id", "status": "pending"}) as any other grant.
func (a *app) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     string   `json:"name"`
		Password string   `json:"password"`
		Roles    []string `json:"roles"`
		Admin    bool     `json:"admin"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	p, _ := auth.PrincipalFromContext(r.Context())
	actor, _ := auth.ActorFromRequest(r)
	origin := a.origin(r, r.Pattern)
	n := auth.NewUser{TenantID: p.TenantID, Name: in.Name, Password: in.Password}
	if in.Admin {
		n.Admin, n.Roles, in.Roles = true, adminRoles, nil
	}
	u, err := a.d.Auth.CreateUser(r.Context(), n, actor, origin)
	if err != nil {
		a.adminError(w, r, err)
		return
	}
	if len(in.Roles) == 0 {
		writeJSON(w, http.StatusCreated, map[string]string{"id": u.ID})
		return
	}
	err = a.d.Auth.SetRoles(r.Context(), u.ID, in.Roles, actor, origin)
	var re *auth.RefusedError
	switch {
	case errors.As(err, &re) && re.Reason == "approval_pending":
		writeJSON(w, http.StatusAccepted, map[string]string{"id": u.ID, "status": "pending"})
	case err != nil:
		a.adminError(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, map[string]string{"id": u.ID})
	}
}

// adminError answers a refused user change with a code, never the input.
func (a *app) adminError(w http.ResponseWriter, r *http.Request, err error) {
	var re *auth.RefusedError
	switch {
	case errors.As(err, &re):
		apiError(w, http.StatusForbidden, re.Reason)
	case errors.Is(err, auth.ErrUserExists):
		apiError(w, http.StatusConflict, "name_taken")
	case errors.Is(err, password.ErrWeak):
		apiError(w, http.StatusBadRequest, "password_rejected")
	case errors.Is(err, auth.ErrInvalidUser):
		apiError(w, http.StatusBadRequest, "invalid_user")
	default:
		a.log.ErrorContext(r.Context(), "create user", "err", err)
		apiError(w, http.StatusInternalServerError, "internal")
	}
}

// pageHolds: GET /admin/holds, the legal holds with the forms to place,
// lift, shred and verify a disposal certificate.
func (a *app) pageHolds(w http.ResponseWriter, r *http.Request) {
	hs, err := a.d.Holds.List(r.Context())
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	// Who set and lifted each hold, by display name from the user
	// directory (no PHI), as on the audit page.
	names := a.names(r.Context())
	rows := make([]holdRow, len(hs))
	for i, h := range hs {
		rows[i] = holdRow{Hold: h, SetByName: names(h.SetBy)}
		if h.LiftedBy != "" {
			rows[i].LiftedByName = names(h.LiftedBy)
		}
	}
	a.render(w, r, 0, "holds", "Legal holds and disposal", struct {
		Holds    []holdRow
		CanShred bool
	}{rows, a.can(r, permShred)}, "")
}

// holdRow is a legal hold as the holds page shows it.
type holdRow struct {
	retention.Hold
	SetByName, LiftedByName string
}

// verifyCertificate: POST /api/admin/certificates/verify {certificate}
// checks a disposal certificate's signature against the deployment's
// trusted keys and answers what it certifies.
func (a *app) verifyCertificate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Certificate string `json:"certificate"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	c, err := disposal.VerifyCertificate([]byte(in.Certificate), a.d.TrustedKeys())
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"valid": false, "verdict": "NOT valid: the certificate does not verify"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "id": c.ID, "subject": c.Subject, "time": c.Time,
		"method": c.Method, "verdict": "valid: disposal " + c.ID + " of " + c.Subject + " by " + c.Method})
}

// pageBackups: GET /admin/backups.
func (a *app) pageBackups(w http.ResponseWriter, r *http.Request) {
	infos, err := a.d.Backups.List(r.Context())
	if err != nil && !errors.Is(err, backup.ErrNotFound) {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	slices.Reverse(infos) // newest first
	a.render(w, r, 0, "backups", "Backups", infos, "")
}

// pageReport: GET /admin/report, the compliance report of this
// deployment, collected read-only from its stores as hipaakit report does.
func (a *app) pageReport(w http.ResponseWriter, r *http.Request) {
	cfg, err := serviceconfig.Load(a.d.DataPath(serviceconfig.FileName))
	var rep report.Report
	if err == nil {
		var ev report.Evidence
		if ev, err = report.Collect(r.Context(), cfg, a.now()); err == nil {
			rep = report.Build(ev)
		}
	}
	if err != nil {
		a.log.ErrorContext(r.Context(), "compliance report", "err", err)
		a.render(w, r, http.StatusServiceUnavailable, "report", "Compliance report", rep,
			"The report could not be collected on this deployment. Run hipaakit report against its service description.")
		return
	}
	a.render(w, r, 0, "report", "Compliance report", rep, "")
}
