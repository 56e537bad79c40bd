package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hipaakit/hipaakit/auth/passkey"
)

// passkeyHandlers serves the passkey endpoints of Service.Mount.
type passkeyHandlers struct {
	svc *Service
	h   *endpoints
}

// mount registers the passkey endpoints (see the package documentation).
func (p *passkeyHandlers) mount(mux *http.ServeMux, prefix string) {
	sess, recent := p.h.sm.Middleware, p.h.sm.RequireRecentAuth
	mux.HandleFunc("POST "+prefix+"/login/passkey/begin", p.loginBegin)
	mux.HandleFunc("POST "+prefix+"/login/passkey/finish", p.loginFinish)
	mux.Handle("GET "+prefix+"/passkeys", sess(http.HandlerFunc(p.list)))
	mux.Handle("POST "+prefix+"/passkeys/register/begin", sess(recent(http.HandlerFunc(p.registerBegin))))
	mux.Handle("POST "+prefix+"/passkeys/register/finish", sess(recent(http.HandlerFunc(p.registerFinish))))
	mux.Handle("POST "+prefix+"/passkeys/remove", sess(recent(http.HandlerFunc(p.remove))))
}

type passkeyFinishBody struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

type passkeyRemoveBody struct {
	Fingerprint string `json:"fingerprint"`
}

// passkeyInfo is what the endpoints show of a Passkey.
type passkeyInfo struct {
	Fingerprint  string     `json:"fingerprint"`
	Name         string     `json:"name"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
	UserVerified bool       `json:"user_verified"`
	Synced       bool       `json:"synced"`
}

func infoOf(k passkey.Credential) passkeyInfo {
	i := passkeyInfo{Fingerprint: k.Fingerprint(), Name: k.Name, CreatedAt: k.CreatedAt, UserVerified: k.UserVerified, Synced: k.BackupState}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		i.LastUsedAt = &t
	}
	return i
}

// failPasskey maps passkey errors to responses, the rest to fail.
func (p *passkeyHandlers) failPasskey(w http.ResponseWriter, r *http.Request, err error) {
	var pe *passkey.Error
	var re *RefusedError
	switch {
	case errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrThrottled):
		p.h.fail(w, r, err)
	case errors.As(err, &pe):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "passkey_refused", "reason": pe.Reason})
	case errors.As(err, &re) && re.Reason == reasonLastPasskey:
		writeError(w, http.StatusConflict, reasonLastPasskey)
	case errors.Is(err, passkey.ErrNotFound):
		writeError(w, http.StatusNotFound, "no_passkey")
	default:
		p.h.fail(w, r, err)
	}
}

// passkeyLoginBody begins or finishes a passkey login: Challenge is the
// password step's, for a passkey as the second factor.
type passkeyLoginBody struct {
	Challenge  string          `json:"challenge"`
	Credential json.RawMessage `json:"credential"`
}

func (p *passkeyHandlers) loginBegin(w http.ResponseWriter, r *http.Request) {
	if p.h.crossSite(w, r) {
		return
	}
	var b struct {
		Challenge string `json:"challenge"`
	}
	if !p.h.decode(w, r, &b) {
		return
	}
	opts, err := p.svc.BeginPasskeyLogin(r.Context(), b.Challenge)
	if err != nil {
		p.failPasskey(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]json.RawMessage{"options": opts})
}

func (p *passkeyHandlers) loginFinish(w http.ResponseWriter, r *http.Request) {
	if p.h.crossSite(w, r) {
		return
	}
	var b passkeyLoginBody
	if !p.h.decode(w, r, &b) {
		return
	}
	var res *LoginResult
	var err error
	if b.Challenge != "" {
		res, err = p.svc.VerifySecondFactor(r.Context(), SecondFactorRequest{Challenge: b.Challenge, Passkey: b.Credential,
			ClientKey: p.h.sm.clientIP(r), Origin: p.h.sm.origin(r)})
	} else {
		res, err = p.svc.FinishPasskeyLogin(r.Context(), b.Credential, p.h.sm.clientIP(r), p.h.sm.origin(r))
	}
	p.h.finishLogin(w, r, res, err)
}

func (p *passkeyHandlers) list(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st == nil {
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
		return
	}
	ks, err := p.svc.ListPasskeys(r.Context(), st.p.UserID)
	if err != nil {
		p.failPasskey(w, r, err)
		return
	}
	out := make([]passkeyInfo, len(ks))
	for i, k := range ks {
		out[i] = infoOf(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"passkeys": out})
}

func (p *passkeyHandlers) registerBegin(w http.ResponseWriter, r *http.Request) {
	var b struct{}
	st, ok := p.h.sessionAndBody(w, r, &b)
	if !ok {
		return
	}
	opts, err := p.svc.BeginPasskeyRegistration(r.Context(), st.p.UserID)
	if err != nil {
		p.failPasskey(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]json.RawMessage{"options": opts})
}

func (p *passkeyHandlers) registerFinish(w http.ResponseWriter, r *http.Request) {
	var b passkeyFinishBody
	st, ok := p.h.sessionAndBody(w, r, &b)
	if !ok {
		return
	}
	k, err := p.svc.FinishPasskeyRegistration(r.Context(), st.p.UserID, b.Name, b.Credential, p.h.sm.origin(r))
	if err != nil {
		p.failPasskey(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"passkey": infoOf(k)})
}

func (p *passkeyHandlers) remove(w http.ResponseWriter, r *http.Request) {
	var b passkeyRemoveBody
	st, ok := p.h.sessionAndBody(w, r, &b)
	if !ok {
		return
	}
	if err := p.svc.RemovePasskey(r.Context(), st.p.UserID, b.Fingerprint, st.s.ID, p.h.sm.origin(r)); err != nil {
		p.failPasskey(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
