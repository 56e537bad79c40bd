package main

import (
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

func staticFiles() http.Handler {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.FileServerFS(sub)
}

// pages holds one template set per page, each with the shared layout.
var pages = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range []string{"login", "enroll", "patients", "patient", "audit", "home", "alerts", "breach"} {
		file := name
		if name == "home" {
			file = "patients"
		}
		m[name] = template.Must(template.ParseFS(webFS, "web/templates/layout.html", "web/templates/"+file+".html"))
	}
	return m
}()

// pageData is what every page template gets.
type pageData struct {
	Title       string
	User, Role  string
	CSRF        string
	IdleSeconds int
	CanSearch   bool
	CanAudit    bool
	Flash       string
	Data        any
}

func (a *app) render(w http.ResponseWriter, r *http.Request, page, title string, data any, flash string) {
	pd := pageData{Title: title, Flash: flash, Data: data}
	if p, ok := auth.PrincipalFromContext(r.Context()); ok {
		pd.User, pd.Role = p.UserID, strings.Join(p.Roles, ", ")
		if u, err := a.d.Users.Get(r.Context(), p.UserID); err == nil {
			pd.User = u.Name
		}
		pd.CSRF = a.d.Auth.CSRFToken(r)
		pd.IdleSeconds = int(a.cfg.IdleTimeout.Seconds())
		pd.CanSearch = a.d.Auth.Can(r, permPatientSearch)
		pd.CanAudit = a.d.Auth.Can(r, permAuditRead)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages[page].ExecuteTemplate(w, "layout", pd); err != nil {
		a.log.ErrorContext(r.Context(), "render page", "page", page, "err", err)
	}
}

// pageLogin: GET shows the form; POST signs in with password and TOTP (or a
// recovery code) in one step and starts a session.
func (a *app) pageLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		flash := ""
		if r.URL.Query().Get("expired") != "" {
			flash = "Your session ended. Please sign in again."
		}
		a.render(w, r, "login", "Sign in", nil, flash)
		return
	}
	if a.d.Auth.CheckCrossOrigin(r) != nil {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	req := auth.LoginRequest{TenantID: demoTenant, Name: r.PostFormValue("username"), Password: r.PostFormValue("password"),
		ClientKey: audit.PeerIP(r), Origin: audit.Origin{Channel: audit.ChannelWeb, ClientIP: audit.PeerIP(r), Route: "POST /login"}}
	if code := strings.TrimSpace(r.PostFormValue("code")); len(code) > 8 {
		req.RecoveryCode = code
	} else {
		req.TOTPCode = code
	}
	res, err := a.d.Auth.Login(r.Context(), req)
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		w.WriteHeader(http.StatusTooManyRequests)
		a.render(w, r, "login", "Sign in", nil, "Too many attempts. Wait a moment and try again.")
		return
	case err != nil || !res.Authenticated:
		w.WriteHeader(http.StatusUnauthorized)
		a.render(w, r, "login", "Sign in", nil, "Sign-in failed. Check your user name, password and authenticator code.")
		return
	}
	if _, _, err := a.d.Auth.Begin(r.Context(), w, r, res.User, res.MFA); err != nil {
		a.log.ErrorContext(r.Context(), "begin session", "err", err)
		http.Error(w, "cannot start a session", http.StatusServiceUnavailable)
		return
	}
	dest := "/home"
	if res.MFAEnrollmentRequired {
		dest = "/enroll"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

// pageLogout ends the session and returns to the login page.
func (a *app) pageLogout(w http.ResponseWriter, r *http.Request) {
	if a.d.Auth.CheckCrossOrigin(r) != nil {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	if err := a.d.Auth.Logout(w, r); err != nil && !errors.Is(err, auth.ErrInvalidSession) {
		a.log.ErrorContext(r.Context(), "logout", "err", err)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// pageHome sends each role to its first page.
func (a *app) pageHome(w http.ResponseWriter, r *http.Request) {
	switch {
	case a.d.Auth.Can(r, permPatientSearch):
		http.Redirect(w, r, "/patients", http.StatusSeeOther)
	case a.d.Auth.Can(r, permAuditRead):
		http.Redirect(w, r, "/audit", http.StatusSeeOther)
	case a.d.Auth.Can(r, permUserManage):
		http.Redirect(w, r, "/admin/alerts", http.StatusSeeOther)
	default:
		a.render(w, r, "home", "Home", struct{ Searched bool }{}, "Signed in. Your role has no patient pages.")
	}
}

// pagePatients: search by MRN. The MRN is posted, never put in the URL.
func (a *app) pagePatients(w http.ResponseWriter, r *http.Request) {
	data := struct {
		Searched bool
		ID       string
	}{}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		// The session middleware has checked the form's csrf_token.
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		data.Searched = true
		id, err := a.clinic.findByMRN(r.Context(), r.PostFormValue("mrn"))
		if err == nil {
			e := fieldEvent(audit.ActionRead, id, "mrn")
			e.Attrs = map[string]string{"lookup": "blind_index"}
			if !a.clinic.record(w, r, e) {
				return
			}
			data.ID = id
		}
	}
	a.render(w, r, "patients", "Patients", data, "")
}

type fieldView struct{ Name, Label, Value string }

// pagePatient shows the fields the role may see; every one is audited.
func (a *app) pagePatient(w http.ResponseWriter, r *http.Request) {
	p, ok := a.clinic.loadPatient(w, r)
	if !ok {
		return
	}
	v, ok := a.clinic.readPatient(r.Context(), w, r, p)
	if !ok {
		return
	}
	data := struct {
		Shredded            bool
		Fields              []fieldView
		Notes, Labs, Vitals []string
	}{Notes: v.Notes, Labs: v.Labs, Vitals: v.Vitals}
	for _, f := range demographicFields {
		if val, ok := v.Fields[f]; ok {
			data.Fields = append(data.Fields, fieldView{Name: f, Label: fieldLabels[f], Value: val})
		}
	}
	a.render(w, r, "patient", "Patient", data, "")
}

// pageAudit shows the newest audit events, newest first (identifiers
// only, no PHI). Query lists oldest first, so the page walks to the end
// keeping the last auditPageSize events: fine for an example's trail; a large
// deployment would query PostgreSQL with a time range instead.
func (a *app) pageAudit(w http.ResponseWriter, r *http.Request) {
	const auditPageSize = 200
	var evs []audit.Event
	f := audit.Filter{Limit: 1000} // below audit.MaxPageSize: Query asks its Searcher for one more
	for {
		page, err := audit.Query(r.Context(), a.searcher(), f)
		if err != nil {
			http.Error(w, "cannot read the audit trail", http.StatusInternalServerError)
			return
		}
		for _, rec := range page.Records {
			evs = append(evs, rec.Event)
		}
		if len(evs) > auditPageSize {
			evs = append(evs[:0], evs[len(evs)-auditPageSize:]...)
		}
		if page.Next.IsZero() {
			break
		}
		f.After = page.Next
	}
	slices.Reverse(evs)
	a.render(w, r, "audit", "Audit trail", struct{ Events []audit.Event }{evs}, "")
}

// pageEnroll shows the TOTP QR code for a user without an active second
// factor and confirms it with a first code.
func (a *app) pageEnroll(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFromContext(r.Context())
	u, err := a.d.Users.Get(r.Context(), p.UserID)
	if err != nil {
		http.Error(w, "unknown user", http.StatusInternalServerError)
		return
	}
	origin := audit.Origin{Channel: audit.ChannelWeb, ClientIP: audit.PeerIP(r), Route: r.Pattern}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil { // csrf_token checked by the session middleware
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		codes, err := a.d.Auth.ConfirmTOTP(r.Context(), p.UserID, r.PostFormValue("code"), p.SessionID, origin)
		if err != nil {
			a.render(w, r, "enroll", "Authenticator", struct{ Active bool }{}, "That code did not match. Try the current one.")
			return
		}
		a.render(w, r, "enroll", "Authenticator", struct{ Active bool }{true},
			"Two-factor authentication is on. Store these recovery codes safely: "+strings.Join(codes, " "))
		return
	}
	if u.MFA.Enabled() {
		a.render(w, r, "enroll", "Authenticator", struct{ Active bool }{true}, "")
		return
	}
	enr, err := a.d.Auth.EnrollTOTP(r.Context(), p.UserID, origin)
	if err != nil {
		http.Error(w, "cannot start enrolment", http.StatusInternalServerError)
		return
	}
	qr := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(enr.QRCodePNG()))
	a.render(w, r, "enroll", "Authenticator", struct {
		Active bool
		QR     template.URL
	}{false, qr}, "")
}
