package main

import (
	"net/http"
	"strings"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/auth"
)

// handler builds the service's complete handler:
//
//	security headers → (public: auth endpoints, login page, static files)
//	                 → session → tenant policy → RBAC guard → audit → handler
//
// Every route behind the guard is declared with its permission; anything
// else is refused (deny by default).
func (a *app) handler() (http.Handler, error) {
	c := a.clinic
	// session → tenant policy → RBAC guard → audit, around every route of g.
	protected, err := a.d.Protect(hipaakit.ProtectConfig{
		// Only well-formed patient IDs go into events: a malformed one must
		// not make the event invalid (and the request unauditable).
		Subject: func(r *http.Request) string { return validPatientID(r.PathValue("id")) },
		Record: func(r *http.Request) (string, string) {
			if id := validPatientID(r.PathValue("id")); id != "" {
				return "patient", id
			}
			return "", ""
		},
		Purpose: func(*http.Request) string { return "treatment" },
	})
	if err != nil {
		return nil, err
	}
	g := a.d.Auth

	// JSON API.
	g.HandleFunc("POST /api/patients", permPatientCreate, c.createPatient)
	g.HandleFunc("POST /api/patients/search", permPatientSearch, c.searchPatient)
	g.HandleFunc("GET /api/patients/{id}", permDemoRead, c.getPatient)
	g.HandleFunc("PUT /api/patients/{id}", permDemoWrite, c.updatePatient)
	g.HandleFunc("POST /api/patients/{id}/notes", permClinicalWrite, c.addEntry("note"))
	g.HandleFunc("POST /api/patients/{id}/labs", permLabWrite, c.addEntry("lab"))
	g.HandleFunc("POST /api/patients/{id}/vitals", permVitalsWrite, c.addEntry("vitals"))
	g.HandleFunc("POST /api/patients/{id}/shred", permShred, c.shredPatient, auth.Sensitive())
	g.HandleFunc("POST /api/patients/{id}/hold", permHold, c.setHold)
	g.HandleFunc("DELETE /api/holds/{hold}", permHold, c.liftHold)
	g.HandleFunc("GET /api/holds", permHold, c.listHolds)
	g.HandleFunc("GET /api/audit", permAuditRead, a.auditQuery)
	g.HandleFunc("GET /api/patients/{id}/disclosures", permAuditRead, a.disclosures)
	g.HandleFunc("POST /api/patients/{id}/disclosures", permDisclose, c.recordDisclosure)
	g.HandleFunc("GET /api/patients/{id}/history", permHistoryRead, a.patientHistory)
	g.HandleFunc("POST /api/patients/{id}/history/reveal", permReviewValues, a.revealHistory)
	g.HandleFunc("POST /api/export/deidentified", permExportDeid, c.exportDeidentified)
	g.HandleFunc("POST /api/backups", permBackup, a.createBackup)
	g.HandleFunc("GET /api/backups", permBackup, a.listBackups)
	g.HandleFunc("POST /api/backups/{backup}/verify", permBackup, a.verifyBackup)
	g.HandleFunc("POST /api/backups/drill", permBackup, a.drillBackup)

	// Administration: users and roles (no PHI), and the break-glass review.
	ah := g.AdminHandlers()
	g.HandleFunc("GET /api/admin/users", permUserManage, a.listUsers)
	g.HandleFunc("PUT /api/admin/users/{id}/roles", permUserManage, ah.SetRoles, auth.Sensitive())
	g.HandleFunc("PUT /api/admin/users/{id}/status", permUserManage, ah.SetStatus, auth.Sensitive())
	g.HandleFunc("POST /api/admin/users/{id}/unlock", permUserManage, ah.Unlock, auth.Sensitive())
	g.HandleFunc("PUT /api/admin/users/{id}/password", permUserManage, ah.SetPassword, auth.Sensitive())
	g.HandleFunc("POST /api/admin/users/{id}/reset-mfa", permUserManage, ah.ResetMFA, auth.Sensitive())
	g.HandleFunc("POST /api/admin/users/{id}/roles/approve", permUserManage, ah.ApproveRoles, auth.Sensitive())
	g.HandleFunc("POST /api/admin/users/{id}/roles/reject", permUserManage, ah.RejectRoles, auth.Sensitive())
	g.HandleFunc("GET /api/admin/role-requests", permUserManage, ah.RoleRequests)
	g.HandleFunc("GET /api/admin/alerts", permUserManage, a.listAlerts)
	g.HandleFunc("GET /api/emergency/report", permEmergencyRev, ah.EmergencyReport)
	g.HandleFunc("GET /api/breach/incidents", permBreach, a.breachList)
	g.HandleFunc("POST /api/breach/incidents", permBreach, a.breachOpen)
	g.HandleFunc("GET /api/breach/incidents/{id}", permBreach, a.breachGet)
	g.HandleFunc("POST /api/breach/incidents/{id}/scope", permBreach, a.breachScope)
	g.HandleFunc("POST /api/breach/incidents/{id}/assessment", permBreach, a.breachAssess)
	g.HandleFunc("POST /api/breach/incidents/{id}/mailing-list", permBreach, a.breachMailing, auth.Sensitive())

	// Web UI pages that need a session.
	g.HandleFunc("GET /patients", permPatientSearch, a.pagePatients)
	g.HandleFunc("POST /patients", permPatientSearch, a.pagePatients)
	g.HandleFunc("GET /patients/{id}", permDemoRead, a.pagePatient)
	g.HandleFunc("GET /audit", permAuditRead, a.pageAudit)
	g.HandleFunc("GET /enroll", permSelfMFA, a.pageEnroll)
	g.HandleFunc("POST /enroll", permSelfMFA, a.pageEnroll)
	g.HandleFunc("GET /home", permUI, a.pageHome)
	g.HandleFunc("GET /admin/alerts", permUserManage, a.pageAlerts)
	g.HandleFunc("GET /breach", permBreach, a.pageBreach)

	root := http.NewServeMux()
	g.Mount(root, "/api/auth")
	root.Handle("GET /static/", http.StripPrefix("/static/", staticFiles()))
	root.HandleFunc("GET /login", a.pageLogin)
	root.HandleFunc("POST /login", a.pageLogin)
	root.HandleFunc("POST /logout", a.pageLogout)
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/home", http.StatusSeeOther) })
	// /healthz is liveness (the process answers); /readyz is readiness:
	// 503 while this replica's stream leases are lost or late, so that a
	// load balancer stops routing to it.
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	root.Handle("GET /readyz", a.d.ReadyHandler())
	root.Handle("/", loginRedirect(protected))
	return a.d.SecurityHeaders(root), nil
}

// loginRedirect turns the 401 of a browser page request into a redirect to
// the login page; API clients (paths under /api/) keep the 401.
func loginRedirect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&redirectOn401{ResponseWriter: w, r: r}, r)
	})
}

type redirectOn401 struct {
	http.ResponseWriter
	r          *http.Request
	redirected bool
}

func (w *redirectOn401) WriteHeader(status int) {
	if status == http.StatusUnauthorized {
		w.redirected = true
		w.Header().Del("Content-Type")
		http.Redirect(w.ResponseWriter, w.r, "/login?expired=1", http.StatusSeeOther)
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *redirectOn401) Write(b []byte) (int, error) {
	if w.redirected {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *redirectOn401) Unwrap() http.ResponseWriter { return w.ResponseWriter }
