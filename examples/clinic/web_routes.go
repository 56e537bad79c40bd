package main

import (
	"net/http"

	"github.com/hipaakit/hipaakit/auth"
)

// webPages declares the pages behind the session chain, each with the
// permission it needs (the navigation shows a page only to roles holding
// it).
func (a *app) webPages(g *auth.Service) {
	g.HandleFunc("GET /home", permUI, a.pageHome)
	g.HandleFunc("GET /account", permSelfMFA, a.pageAccount)

	g.HandleFunc("GET /patients", permPatientSearch, a.pagePatients)
	g.HandleFunc("GET /patients/new", permPatientCreate, a.pagePatientNew)
	g.HandleFunc("GET /patients/{id}", permDemoRead, a.pagePatient)
	g.HandleFunc("GET /patients/{id}/lab", permLabWrite, a.pagePatientLab)
	g.HandleFunc("GET /patients/{id}/history", permHistoryRead, a.pageHistory)
	g.HandleFunc("GET /export", permExportDeid, a.pageExport)

	g.HandleFunc("GET /audit", permAuditRead, a.pageAudit)
	g.HandleFunc("POST /audit", permAuditRead, a.pageAuditByMRN)
	g.HandleFunc("GET /audit/export", permAuditRead, a.auditExport)
	g.HandleFunc("GET /audit/patients/{id}/disclosures", permAuditRead, a.pageDisclosures)
	g.HandleFunc("GET /audit/break-glass", permEmergencyRev, a.pageBreakGlass)

	g.HandleFunc("GET /admin/users", permUserManage, a.pageUsers)
	g.HandleFunc("GET /admin/alerts", permUserManage, a.pageAlerts)
	g.HandleFunc("GET /admin/holds", permHold, a.pageHolds)
	g.HandleFunc("GET /admin/backups", permBackup, a.pageBackups)
	g.HandleFunc("GET /admin/report", permBackup, a.pageReport)

	g.HandleFunc("GET /breach", permBreach, a.pageBreach)
	g.HandleFunc("GET /breach/{id}", permBreach, a.pageIncident)
}

// publicPages are served without a session and write no audit events:
// the sign-in steps, the signed-out confirmation, static files and the
// icon. GET patterns also answer HEAD, which never signs anyone in.
func (a *app) publicPages(root *http.ServeMux) {
	root.Handle("GET /static/", a.staticFiles())
	root.HandleFunc("GET /favicon.ico", favicon)
	root.HandleFunc("GET /login", a.pageLogin)
	root.HandleFunc("POST /login", a.pageLogin)
	root.HandleFunc("POST /login/code", a.pageLoginCode)
	root.HandleFunc("POST /logout", a.pageLogout)
	root.HandleFunc("GET /signed-out", a.pageSignedOut)
	// Enrolment is reached before the tenant's MFA policy is met: the
	// session step only (auth.Service.Session), on the user's own account.
	enroll := a.htmlErrors(a.d.Auth.Session(http.HandlerFunc(a.pageEnroll)))
	root.Handle("GET /enroll", enroll)
	root.Handle("POST /enroll", enroll)
}
