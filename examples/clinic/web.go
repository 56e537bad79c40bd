package main

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// The web UI is server-rendered HTML (web/templates, one file per page
// with the shared layout) over the same handlers and SDK calls as the JSON
// API. Pages that change something post to the JSON API from the page
// (web/static/forms.js): the writes, their checks and their audit events
// exist once. Every page offers only what the signed-in role may do.

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// pageNames are the templates under web/templates (without .html).
var pageNames = []string{"login", "login_code", "signed_out", "error", "enroll", "home", "patients", "patient",
	"patient_new", "patient_lab", "export", "audit", "history", "disclosures", "breakglass", "alerts", "users", "holds", "backups", "report",
	"account", "breach", "incident"}

// pages holds one template set per page, each with the shared layout.
var pages = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"utc": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
		"list": func(v ...any) []any { return v },
	}
	m := map[string]*template.Template{}
	for _, name := range pageNames {
		m[name] = template.Must(template.New("layout").Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", "web/templates/"+name+".html"))
	}
	return m
}()

// navLink is one entry of the navigation: shown only to roles holding its
// permission.
type navLink struct {
	perm        policy.Permission
	Href, Label string
	About       string // the home page's description of the task
}

var navLinks = []navLink{
	{permPatientSearch, "/patients", "Patients", "Find a patient by MRN and open the record."},
	{permPatientCreate, "/patients/new", "New patient", "Register a new patient."},
	{permExportDeid, "/export", "De-identified export", "Download the patients de-identified by Safe Harbor."},
	{permAuditRead, "/audit", "Audit trail", "Search who did what, when, to which record; export the result."},
	{permEmergencyRev, "/audit/break-glass", "Break-glass review", "Review emergency accesses and their reasons."},
	{permUserManage, "/admin/users", "Users", "Create users, change roles, approve grants, disable, unlock, reset MFA."},
	{permHold, "/admin/holds", "Legal holds", "Place and lift legal holds; dispose of (shred) a patient's data."},
	{permBackup, "/admin/backups", "Backups", "Create, verify and drill backups; read the compliance report."},
	{permUserManage, "/admin/alerts", "Alerts", "Break-glass alerts of this server."},
	{permBreach, "/breach", "Breach response", "Incidents, scoping from the audit trail, assessment and deadlines."},
}

// pageData is what every page template gets.
type pageData struct {
	Title       string
	User, Role  string
	CSRF        string
	IdleSeconds int
	Nav         []navLink
	Flash       string
	Alert       string // an error message, announced to screen readers
	Data        any
}

// can reports whether the signed-in user holds perm (false when signed out).
func (a *app) can(r *http.Request, perm policy.Permission) bool { return a.d.Auth.Can(r, perm) }

// render writes the page with status (0 means 200).
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any, flash string) {
	pd := pageData{Title: title, Flash: flash, Data: data}
	if status >= 400 {
		pd.Alert, pd.Flash = flash, ""
	}
	if p, ok := auth.PrincipalFromContext(r.Context()); ok {
		pd.User, pd.Role = p.UserID, strings.Join(p.Roles, ", ")
		if u, err := a.d.Users.Get(r.Context(), p.UserID); err == nil {
			pd.User = u.Name
		}
		pd.CSRF = a.d.Auth.CSRFToken(r)
		pd.IdleSeconds = int(a.cfg.IdleTimeout.Seconds())
		for _, l := range navLinks {
			if a.can(r, l.perm) {
				pd.Nav = append(pd.Nav, l)
			}
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if status == 0 {
		status = http.StatusOK
	}
	var b strings.Builder // rendered whole first: a failing template never sends half a page
	if err := pages[page].ExecuteTemplate(&b, "layout", pd); err != nil {
		a.log.ErrorContext(r.Context(), "render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// pageHome lists the tasks of the signed-in role, nothing else.
func (a *app) pageHome(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, 0, "home", "Home", nil, "")
}

// staticFiles serves web/static: files only (a directory is 404, never a
// listing), outside the session chain, so they write no audit events.
func (a *app) staticFiles() http.Handler {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if st, err := fs.Stat(sub, name); name == "" || strings.HasSuffix(name, "/") || err != nil || st.IsDir() {
			a.errorPage(w, r, http.StatusNotFound, "not_found")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.StripPrefix("/static/", files).ServeHTTP(w, r)
	})
}

// favicon serves the icon browsers ask for at /favicon.ico.
func favicon(w http.ResponseWriter, r *http.Request) {
	b, _ := webFS.ReadFile("web/static/favicon.svg")
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
}
