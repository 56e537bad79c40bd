package main

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

// Sign-in is two steps: the password (POST /login), then, for a user with
// an authenticator, the code or a recovery code (POST /login/code) with
// the signed challenge of the first step. A passkey signs in without
// either (the login page's button, through /api/auth/login/passkey).

// loginForm reads a same-origin form post of at most 8 KiB; it has
// answered when it returns false.
func (a *app) loginForm(w http.ResponseWriter, r *http.Request) bool {
	if a.d.Auth.CheckCrossOrigin(r) != nil {
		a.errorPage(w, r, http.StatusForbidden, "cross_site")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, http.StatusBadRequest, "bad_request")
		return false
	}
	return true
}

func (a *app) origin(r *http.Request, route string) audit.Origin {
	return audit.Origin{Channel: audit.ChannelWeb, ClientIP: audit.PeerIP(r), Route: route}
}

// pageLogin: GET (and HEAD) shows the form and never signs anyone in;
// POST checks the password (and a code, when the form carries one).
func (a *app) pageLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		flash := ""
		if r.URL.Query().Get("expired") != "" {
			flash = "Your session ended. Please sign in again."
		}
		a.render(w, r, 0, "login", "Sign in", a.loginView(), flash)
		return
	}
	if !a.loginForm(w, r) {
		return
	}
	req := auth.LoginRequest{TenantID: demoTenant, Name: r.PostFormValue("username"), Password: r.PostFormValue("password"),
		ClientKey: audit.PeerIP(r), Origin: a.origin(r, "POST /login")}
	req.TOTPCode, req.RecoveryCode = splitCode(r.PostFormValue("code"))
	res, err := a.d.Auth.Login(r.Context(), req)
	if err == nil && res.SecondFactorRequired {
		a.render(w, r, 0, "login_code", "Authenticator code", struct{ Challenge string }{res.Challenge}, "")
		return
	}
	a.finishLogin(w, r, "login", a.loginView(), res, err)
}

// loginView tells the login page whether to offer passkeys.
func (a *app) loginView() any { return struct{ Passkeys bool }{a.cfg.PasskeyRPID != ""} }

// pageLoginCode: POST /login/code completes the sign-in with the code.
func (a *app) pageLoginCode(w http.ResponseWriter, r *http.Request) {
	if !a.loginForm(w, r) {
		return
	}
	challenge := r.PostFormValue("challenge")
	req := auth.SecondFactorRequest{Challenge: challenge, ClientKey: audit.PeerIP(r), Origin: a.origin(r, "POST /login/code")}
	req.TOTPCode, req.RecoveryCode = splitCode(r.PostFormValue("code"))
	res, err := a.d.Auth.VerifySecondFactor(r.Context(), req)
	a.finishLogin(w, r, "login_code", struct{ Challenge string }{challenge}, res, err)
}

// splitCode tells a recovery code (longer than 8 characters) from a TOTP code.
func splitCode(code string) (totp, recovery string) {
	if code = strings.TrimSpace(code); len(code) > 8 {
		return "", code
	}
	return code, ""
}

// finishLogin starts the session of a successful login, or shows page
// again with a message that does not say what was wrong.
func (a *app) finishLogin(w http.ResponseWriter, r *http.Request, page string, data any, res *auth.LoginResult, err error) {
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		a.render(w, r, http.StatusTooManyRequests, page, "Sign in", data, errorMessages["throttled"])
		return
	case err != nil || !res.Authenticated:
		a.render(w, r, http.StatusUnauthorized, page, "Sign in", data, "Sign-in failed. Check your user name, password and authenticator code.")
		return
	}
	if _, _, err := a.d.Auth.Begin(r.Context(), w, r, res.User, res.MFA); err != nil {
		a.log.ErrorContext(r.Context(), "begin session", "err", err)
		a.errorPage(w, r, http.StatusServiceUnavailable, "unavailable")
		return
	}
	dest := "/home"
	if res.MFAEnrollmentRequired {
		dest = "/enroll"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

// pageLogout ends the session and confirms it on /signed-out.
func (a *app) pageLogout(w http.ResponseWriter, r *http.Request) {
	if a.d.Auth.CheckCrossOrigin(r) != nil {
		a.errorPage(w, r, http.StatusForbidden, "cross_site")
		return
	}
	if err := a.d.Auth.Logout(w, r); err != nil && !errors.Is(err, auth.ErrInvalidSession) {
		a.log.ErrorContext(r.Context(), "logout", "err", err)
	}
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
}

func (a *app) pageSignedOut(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, 0, "signed_out", "Signed out", nil, "")
}

// enrollView is the authenticator page: the QR code to scan (absent once
// active, or after a wrong code: the code already scanned stays valid).
type enrollView struct {
	Active bool
	QR     template.URL
	Codes  []string
}

// pageEnroll shows the TOTP QR code for a user without an active second
// factor and confirms it with a first code.
func (a *app) pageEnroll(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFromContext(r.Context())
	u, err := a.d.Users.Get(r.Context(), p.UserID)
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	origin := a.origin(r, r.Pattern)
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil { // csrf_token checked by the session middleware
			a.errorPage(w, r, http.StatusBadRequest, "bad_request")
			return
		}
		codes, err := a.d.Auth.ConfirmTOTP(r.Context(), p.UserID, r.PostFormValue("code"), p.SessionID, origin)
		if err != nil {
			a.render(w, r, http.StatusBadRequest, "enroll", "Authenticator", enrollView{},
				"That code did not match. Enter the current code from your app, or open this page again for a new QR code.")
			return
		}
		a.render(w, r, 0, "enroll", "Authenticator", enrollView{Active: true, Codes: codes},
			"Two-factor authentication is on. Store these recovery codes safely; they are shown once.")
		return
	}
	if u.MFA.Enabled() {
		a.render(w, r, 0, "enroll", "Authenticator", enrollView{Active: true}, "")
		return
	}
	enr, err := a.d.Auth.EnrollTOTP(r.Context(), p.UserID, origin)
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	qr := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(enr.QRCodePNG()))
	a.render(w, r, 0, "enroll", "Authenticator", enrollView{QR: qr}, "")
}

// pageAccount: the user's own account, with the passkeys (registered and
// removed through /api/auth/passkeys from the page).
func (a *app) pageAccount(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFromContext(r.Context())
	u, err := a.d.Users.Get(r.Context(), p.UserID)
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	a.render(w, r, 0, "account", "Your account", struct {
		User     *auth.User
		Passkeys bool
	}{u, a.cfg.PasskeyRPID != ""}, "")
}
