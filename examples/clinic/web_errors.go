package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// errorMessages are the messages a person reads for the error codes of
// the JSON API and the auth chain, by code; statusMessages by status for
// any other code. None names the input or the record.
var errorMessages = map[string]string{
	"csrf_failed":               "This form has expired or was sent from another page. Go back, reload the page and try again.",
	"cross_site":                "This form was sent from another site and was refused. Open the clinic's own page and try again.",
	"forbidden":                 "Your role does not allow this page. Use the links above for the tasks of your role.",
	"mfa_required":              "Set up your authenticator first: open the Authenticator page from your account.",
	"passkey_required":          "Your role requires a passkey. Register one on your account page, then sign in with it.",
	"password_expired":          "Your password has expired. Ask an administrator to set a new one.",
	"patient_disposed":          "This patient's data was disposed of (crypto-shredded) and can no longer be read.",
	"not_found":                 "There is no such page or record.",
	"audit_unavailable":         "The audit trail cannot record this access right now, so nothing is shown. Try again shortly.",
	"reauthentication_required": "This action needs a fresh sign-in. Sign in again and repeat it.",
	"unavailable":               "The service is unavailable right now. Try again shortly.",
	"throttled":                 "Too many attempts. Wait a moment and try again.",
}

var statusMessages = map[int]string{
	http.StatusBadRequest:            "The request was not understood. Go back and check what you entered.",
	http.StatusForbidden:             errorMessages["forbidden"],
	http.StatusNotFound:              errorMessages["not_found"],
	http.StatusMethodNotAllowed:      "That page cannot be used this way. Go back and use the page's own buttons.",
	http.StatusConflict:              "Someone else changed this at the same time. Reload the page and try again.",
	http.StatusGone:                  errorMessages["patient_disposed"],
	http.StatusRequestEntityTooLarge: "What you sent is too large.",
	http.StatusTooManyRequests:       errorMessages["throttled"],
	http.StatusServiceUnavailable:    errorMessages["unavailable"],
}

// errorMessage is the message for an error code and status.
func errorMessage(status int, code string) string {
	if m, ok := errorMessages[code]; ok {
		return m
	}
	if m, ok := statusMessages[status]; ok {
		return m
	}
	return "Something went wrong on the server. Try again; if it keeps happening, tell your administrator."
}

// errorPage answers a browser with a whole HTML page for status.
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int, code string) {
	title := http.StatusText(status)
	if status == http.StatusGone {
		title = "Patient data disposed of"
	}
	a.render(w, r, status, "error", title, struct {
		Status int
		Code   string
	}{status, code}, errorMessage(status, code))
}

// htmlErrors turns the error answers of browser pages (paths outside
// /api/) into HTML pages: a 401 becomes a redirect to the login page, any
// other JSON or plain-text error a page with a message a person
// understands. API clients keep the JSON.
func (a *app) htmlErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		ew := &errorWriter{ResponseWriter: w}
		next.ServeHTTP(ew, r)
		if ew.status == 0 {
			return
		}
		clearHeaders(w)
		if ew.status == http.StatusUnauthorized {
			w.Header().Set("X-Content-Type-Options", "nosniff") // cleared with the error's headers
			http.Redirect(w, r, "/login?expired=1", http.StatusSeeOther)
			return
		}
		var body struct {
			Error string `json:"error"`
		}
		json.Unmarshal(ew.body.Bytes(), &body) //nolint:errcheck // a plain-text body has no code
		a.sessionErrorPage(w, r, ew.status, body.Error)
	})
}

// sessionErrorPage renders the error page with the user's navigation when
// the request has a valid session: the session step runs again on a GET
// copy of the request (no CSRF check: nothing changes), and without a
// session the page is rendered signed out.
func (a *app) sessionErrorPage(w http.ResponseWriter, r *http.Request, status int, code string) {
	rendered := false
	page := a.d.Auth.Session(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rendered = true
		a.errorPage(w, r, status, code)
	}))
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	page.ServeHTTP(&errorWriter{ResponseWriter: w}, get)
	if !rendered {
		clearHeaders(w)
		a.errorPage(w, r, status, code)
	}
}

func clearHeaders(w http.ResponseWriter) {
	h := w.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "X-Content-Type-Options"} {
		h.Del(k)
	}
}

// errorWriter holds back an error answer that is not HTML (status set,
// body kept up to 1 KiB) for htmlErrors to replace.
type errorWriter struct {
	http.ResponseWriter
	status  int
	written bool
	body    bytes.Buffer
}

func (w *errorWriter) WriteHeader(status int) {
	if w.written {
		return
	}
	w.written = true
	if status >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		w.status = status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *errorWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if w.status != 0 {
		if w.body.Len() < 1<<10 {
			w.body.Write(b[:min(len(b), 1<<10-w.body.Len())])
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *errorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
