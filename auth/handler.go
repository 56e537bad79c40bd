package auth

// The endpoints and their error codes are listed in the package
// documentation (doc.go).

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/password"
)

// defaultMaxBodyBytes bounds handler request bodies.
const defaultMaxBodyBytes = 8 << 10

// Handlers serves the authentication endpoints. Build it with NewHandlers.
type endpoints struct {
	// MaxBodyBytes bounds request bodies (default 8 KiB).
	MaxBodyBytes int64

	sm    *sessionManager
	auth  *authenticator
	guard *rbacGuard
}

// newHandlers returns the endpoints for sessions sm and credentials a. The
// break-glass endpoints are served only when g is not nil.
func newHandlers(sm *sessionManager, a *authenticator, g *rbacGuard) *endpoints {
	return &endpoints{MaxBodyBytes: defaultMaxBodyBytes, sm: sm, auth: a, guard: g}
}

// Mount registers the endpoints on mux under prefix (for example "/auth";
// "" for the root).
func (h *endpoints) Mount(mux *http.ServeMux, prefix string) {
	prefix = strings.TrimSuffix(prefix, "/")
	sess := h.sm.Middleware
	mux.HandleFunc("POST "+prefix+"/login", h.login)
	mux.HandleFunc("POST "+prefix+"/login/second-factor", h.secondFactor)
	mux.Handle("GET "+prefix+"/session", sess(http.HandlerFunc(h.session)))
	mux.Handle("POST "+prefix+"/session/keepalive", sess(http.HandlerFunc(h.session)))
	mux.HandleFunc("POST "+prefix+"/logout", h.logout)
	mux.Handle("POST "+prefix+"/reauth", sess(http.HandlerFunc(h.reauth)))
	mux.Handle("POST "+prefix+"/password", sess(http.HandlerFunc(h.changePassword)))
	mux.Handle("POST "+prefix+"/mfa/totp/enroll", sess(h.sm.RequireRecentAuth(http.HandlerFunc(h.enrollTOTP))))
	mux.Handle("POST "+prefix+"/mfa/totp/confirm", sess(http.HandlerFunc(h.confirmTOTP)))
	mux.Handle("POST "+prefix+"/mfa/recovery-codes", sess(h.sm.RequireRecentAuth(http.HandlerFunc(h.RegenerateRecoveryCodes))))
	if h.guard != nil {
		// Elevation needs a recent authentication: a stolen idle session
		// cannot break the glass.
		mux.Handle("POST "+prefix+"/emergency/elevate", sess(h.sm.EnforcePolicy(h.sm.RequireRecentAuth(http.HandlerFunc(h.elevate)))))
		mux.Handle("POST "+prefix+"/emergency/end", sess(http.HandlerFunc(h.endEmergency)))
	}
}

// writeJSON sends v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client went away
}

// decode reads one JSON object into v, answering 400 itself when it cannot.
func (h *endpoints) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return false
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = defaultMaxBodyBytes
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return false
	}
	return true
}

// sessionAndBody returns the request's session state and decodes the body
// into v, answering the request itself when either is missing.
func (h *endpoints) sessionAndBody(w http.ResponseWriter, r *http.Request, v any) (*requestState, bool) {
	st := stateFrom(r.Context())
	if st == nil {
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
		return nil, false
	}
	return st, h.decode(w, r, v)
}

// fail maps an error of the Authenticator or the session manager to a response.
func (h *endpoints) fail(w http.ResponseWriter, r *http.Request, err error) {
	var te *ThrottledError
	var pe *password.Error
	switch {
	case errors.As(err, &te):
		secs := int(te.RetryAfter.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "throttled")
	case errors.As(err, &pe):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "password_rejected", "reason": string(pe.Reason)})
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, errInvalidCode):
		writeError(w, http.StatusUnauthorized, "invalid_credentials")
	case errors.Is(err, ErrInvalidUser):
		writeError(w, http.StatusBadRequest, codeBadRequest)
	case errors.Is(err, ErrInvalidSession), errors.Is(err, errUserInactive):
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
	case errors.Is(err, errMFAAlreadyActive):
		writeError(w, http.StatusConflict, "mfa_already_active")
	case errors.Is(err, errMFANotEnrolled):
		writeError(w, http.StatusConflict, "mfa_not_enrolled")
	case errors.Is(err, errEmergencyDenied):
		writeError(w, http.StatusForbidden, "emergency_denied")
	default:
		h.sm.logError(r.Context(), "auth handler", err)
		writeError(w, http.StatusServiceUnavailable, codeUnavailable)
	}
}

type loginBody struct {
	TenantID     string `json:"tenant_id"`
	Name         string `json:"name"`
	Password     string `json:"password"`
	TOTPCode     string `json:"totp_code"`
	RecoveryCode string `json:"recovery_code"`
}

type secondFactorBody struct {
	Challenge    string `json:"challenge"`
	TOTPCode     string `json:"totp_code"`
	RecoveryCode string `json:"recovery_code"`
}

// loginResponse is the body of a successful login step.
type loginResponse struct {
	Status                string   `json:"status"`
	Challenge             string   `json:"challenge,omitempty"`
	SecondFactors         []string `json:"second_factors,omitempty"`
	UserID                string   `json:"user_id,omitempty"`
	CSRFToken             string   `json:"csrf_token,omitempty"`
	MFA                   bool     `json:"mfa"`
	MFAEnrollmentRequired bool     `json:"mfa_enrollment_required,omitempty"`
	PasswordExpired       bool     `json:"password_expired,omitempty"`
	RecoveryCodesLeft     *int     `json:"recovery_codes_left,omitempty"`
	// Token is returned only when the manager accepts Bearer tokens (for
	// clients without cookies).
	Token string `json:"token,omitempty"`
}

// crossSite refuses a login form submitted from another site.
func (h *endpoints) crossSite(w http.ResponseWriter, r *http.Request) bool {
	if err := h.sm.CheckCrossOrigin(r); err != nil {
		h.sm.record(r.Context(), r, audit.Actor{}, audit.ActionLoginFailed, audit.OutcomeFailure, "csrf") //nolint:errcheck // refused anyway
		writeError(w, http.StatusForbidden, codeCSRF)
		return true
	}
	return false
}

func (h *endpoints) login(w http.ResponseWriter, r *http.Request) {
	if h.crossSite(w, r) {
		return
	}
	var b loginBody
	if !h.decode(w, r, &b) {
		return
	}
	res, err := h.auth.Login(r.Context(), LoginRequest{TenantID: b.TenantID, Name: b.Name, Password: b.Password,
		TOTPCode: b.TOTPCode, RecoveryCode: b.RecoveryCode, ClientKey: h.sm.clientIP(r), Origin: h.sm.origin(r)})
	h.finishLogin(w, r, res, err)
}

func (h *endpoints) secondFactor(w http.ResponseWriter, r *http.Request) {
	if h.crossSite(w, r) {
		return
	}
	var b secondFactorBody
	if !h.decode(w, r, &b) {
		return
	}
	res, err := h.auth.VerifySecondFactor(r.Context(), SecondFactorRequest{Challenge: b.Challenge, TOTPCode: b.TOTPCode,
		RecoveryCode: b.RecoveryCode, ClientKey: h.sm.clientIP(r), Origin: h.sm.origin(r)})
	h.finishLogin(w, r, res, err)
}

// finishLogin answers a login step and starts the session when it completed.
func (h *endpoints) finishLogin(w http.ResponseWriter, r *http.Request, res *LoginResult, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res.SecondFactorRequired {
		writeJSON(w, http.StatusOK, loginResponse{Status: "second_factor_required", Challenge: res.Challenge, SecondFactors: res.SecondFactors})
		return
	}
	if !res.Authenticated {
		writeError(w, http.StatusUnauthorized, "invalid_credentials")
		return
	}
	_, tok, err := h.sm.begin(r.Context(), w, r, res.User, res.MFA, res.Passkey)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := loginResponse{Status: "authenticated", UserID: res.User.ID, CSRFToken: csrfFor(tok), MFA: res.MFA,
		MFAEnrollmentRequired: res.MFAEnrollmentRequired, PasswordExpired: res.PasswordExpired}
	if res.UsedRecoveryCode {
		n := len(res.User.MFA.RecoveryCodes)
		out.RecoveryCodesLeft = &n
	}
	if h.sm.AllowBearer {
		out.Token = tok
	}
	writeJSON(w, http.StatusOK, out)
}

// sessionResponse describes the request's session.
type sessionResponse struct {
	UserID           string     `json:"user_id"`
	TenantID         string     `json:"tenant_id"`
	Roles            []string   `json:"roles"`
	MFA              bool       `json:"mfa"`
	CSRFToken        string     `json:"csrf_token"`
	IdleExpiresAt    time.Time  `json:"idle_expires_at"`
	AbsoluteExpireAt time.Time  `json:"absolute_expires_at"`
	EmergencyRole    string     `json:"emergency_role,omitempty"`
	EmergencyUntil   *time.Time `json:"emergency_until,omitempty"`
}

// session answers GET /session and POST /session/keepalive: the session
// middleware has already recorded the activity.
func (h *endpoints) session(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st == nil {
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
		return
	}
	idle, abs := h.sm.limits(&st.s, &st.policy)
	out := sessionResponse{UserID: st.p.UserID, TenantID: st.p.TenantID, Roles: st.p.Roles, MFA: st.s.MFA,
		CSRFToken: csrfFor(st.token), IdleExpiresAt: st.s.LastSeenAt.Add(idle).UTC(), AbsoluteExpireAt: st.s.CreatedAt.Add(abs).UTC()}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	if g := st.s.Emergency; g != nil {
		u := g.Until.UTC()
		out.EmergencyRole, out.EmergencyUntil = g.Role, &u
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *endpoints) logout(w http.ResponseWriter, r *http.Request) {
	// Logout needs no CSRF token: ending a session is always safe, and a
	// forged logout can only sign the user out. Cross-site requests are
	// still refused so that a page cannot log users out at will.
	if h.crossSite(w, r) {
		return
	}
	err := h.sm.Logout(w, r)
	if err != nil && !errors.Is(err, ErrInvalidSession) {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

type reauthBody struct {
	Password string `json:"password"`
	TOTPCode string `json:"totp_code"`
}

// reauth verifies the password (and the TOTP code when the user has TOTP)
// again and refreshes the session's authentication time.
func (h *endpoints) reauth(w http.ResponseWriter, r *http.Request) {
	var b reauthBody
	st, ok := h.sessionAndBody(w, r, &b)
	if !ok {
		return
	}
	u, err := h.sm.users.Get(r.Context(), st.p.UserID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.auth.Login(r.Context(), LoginRequest{TenantID: u.TenantID, Name: u.Name, Password: b.Password,
		TOTPCode: b.TOTPCode, ClientKey: h.sm.clientIP(r), Origin: h.sm.origin(r)})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !res.Authenticated || res.User.ID != st.p.UserID {
		// A TOTP user sent no code: the password alone does not re-authenticate.
		writeError(w, http.StatusUnauthorized, "invalid_credentials")
		return
	}
	csrf, err := h.sm.Reauthenticated(w, r, res.MFA)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"csrf_token": csrf})
}

type passwordBody struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword changes the user's password, ends their other sessions and
// rotates this one.
func (h *endpoints) changePassword(w http.ResponseWriter, r *http.Request) {
	var b passwordBody
	st, ok := h.sessionAndBody(w, r, &b)
	if !ok {
		return
	}
	err := h.auth.ChangePassword(r.Context(), ChangePasswordRequest{UserID: st.p.UserID, CurrentPassword: b.CurrentPassword,
		NewPassword: b.NewPassword, KeepSessionID: st.s.ID, ClientKey: h.sm.clientIP(r), Origin: h.sm.origin(r)})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	csrf, err := h.sm.Reauthenticated(w, r, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"csrf_token": csrf})
}

// enrollTOTP starts TOTP enrolment for the signed-in user.
func (h *endpoints) enrollTOTP(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st == nil {
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
		return
	}
	e, err := h.auth.EnrollTOTP(r.Context(), st.p.UserID, h.sm.origin(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"otpauth_uri": e.URI(), "secret": e.Secret(),
		"qr_png": base64.StdEncoding.EncodeToString(e.QRCodePNG())})
}

type confirmBody struct {
	Code string `json:"code"`
}

// confirmTOTP activates the enrolment; the session becomes an MFA session
// with a new token, and the user's other sessions end.
func (h *endpoints) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	var b confirmBody
	st, ok := h.sessionAndBody(w, r, &b)
	if !ok {
		return
	}
	codes, err := h.auth.ConfirmTOTP(r.Context(), st.p.UserID, b.Code, st.s.ID, h.sm.origin(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	csrf, err := h.sm.Reauthenticated(w, r, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes, "csrf_token": csrf})
}

type elevateBody struct {
	Role            string `json:"role"`
	Reason          string `json:"reason"`
	DurationSeconds int64  `json:"duration_seconds"`
}

func (h *endpoints) elevate(w http.ResponseWriter, r *http.Request) {
	var b elevateBody
	if !h.decode(w, r, &b) {
		return
	}
	if b.DurationSeconds < 0 || b.DurationSeconds > int64(24*time.Hour/time.Second) {
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	a, csrf, err := h.guard.Elevate(w, r, b.Role, b.Reason, time.Duration(b.DurationSeconds)*time.Second)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_id": a.ID, "role": a.Role, "until": a.Until, "csrf_token": csrf})
}

func (h *endpoints) endEmergency(w http.ResponseWriter, r *http.Request) {
	if err := h.sm.EndEmergency(w, r); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// maxReportRange bounds the period of one emergency report.
const maxReportRange = 366 * 24 * time.Hour

// EmergencyReport answers GET requests with the emergency accesses that
// started in [from, to) (query parameters in RFC 3339; default the last 30
// days) as {"accesses": [...]}. Register it on the Guard with a reviewer's
// permission.
func (h *endpoints) EmergencyReport(w http.ResponseWriter, r *http.Request) {
	now := h.sm.now()
	from, to := now.Add(-30*24*time.Hour), now.Add(time.Nanosecond) // up to and including now
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, codeBadRequest)
				return
			}
			*p.dst = t
		}
	}
	if !from.Before(to) || to.Sub(from) > maxReportRange {
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	out, err := h.sm.EmergencyReport(r.Context(), from, to)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if out == nil {
		out = []EmergencyAccess{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from.UTC(), "to": to.UTC(), "accesses": out})
}
