package main

import (
	"net/http"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
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
		Action:  audit.RouteActions(routeActions),
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

	g.HandleFunc("POST /api/admin/users", permUserManage, a.createUser, auth.Sensitive())
	g.HandleFunc("POST /api/admin/certificates/verify", permShred, a.verifyCertificate)

	a.webPages(g) // the web UI's pages (web_routes.go)

	root := http.NewServeMux()
	g.Mount(root, "/api/auth")
	a.publicPages(root)
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/home", http.StatusSeeOther) })
	// /healthz is liveness (the process answers); /readyz is readiness:
	// 503 while this replica's stream leases are lost or late, so that a
	// load balancer stops routing to it.
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	root.Handle("GET /readyz", a.d.ReadyHandler())
	root.Handle("/", a.htmlErrors(protected))
	return a.d.SecurityHeaders(root), nil
}
