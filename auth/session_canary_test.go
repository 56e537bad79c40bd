package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
)

// TestSessionTokenNeverLeaks drives sessions through their whole life and
// checks that no token (nor its CSRF derivative) reaches audit events, logs,
// errors, response bodies or the formatted session values.
func TestSessionTokenNeverLeaks(t *testing.T) {
	e, g, h := guardEnv(t)
	var logs bytes.Buffer
	e.sm.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	doc := e.addUser("doc", "physician")
	var secrets []string
	var texts []string
	note := func(v ...any) {
		for _, x := range v {
			texts = append(texts, fmt.Sprintf("%v|%+v|%#v", x, x, x))
			if b, err := json.Marshal(x); err == nil {
				texts = append(texts, string(b))
			}
		}
	}

	s, tok, err := e.sm.Begin(context.Background(), httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), doc, true)
	if err != nil {
		t.Fatal(err)
	}
	csrf := csrfOf(t, e, tok)
	secrets = append(secrets, tok, tok[5:], csrf)
	note(s)
	for _, rr := range []*httptest.ResponseRecorder{
		do(h, "GET", "/patients/1", tok),
		do(h, "PUT", "/labs/1", tok, "X-CSRF-Token", csrf),
		do(h, "POST", "/patients/1", tok),
		do(h, "GET", "/nowhere", tok),
	} {
		texts = append(texts, rr.Body.String())
	}
	tok2, acc, err := elevate(t, e, g, tok, "er_override", "code blue in ward seven now", 0)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok2, csrfOf(t, e, tok2))
	note(acc)
	probe := e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		a, _ := auth.ActorFromRequest(r)
		note(p, *p, a)
	}))
	do(probe, "GET", "/", tok2)

	// Malformed and stale tokens, errors of every kind.
	for _, bad := range []string{tok, tok + "x", "hks1_" + tok} {
		_, err := auth.ParseToken(bad)
		if err != nil {
			texts = append(texts, err.Error())
		}
		rr := do(h, "GET", "/patients/1", bad)
		texts = append(texts, rr.Body.String())
	}
	e.sm = auth.NewSessionManager(failingStore{e.store}, e.users, e.rec)
	e.sm.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	do(e.sm.Middleware(whoami), "GET", "/", tok2)
	r := httptest.NewRequest("POST", "/logout", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok2})
	if err := e.sm.Logout(httptest.NewRecorder(), r); err != nil {
		texts = append(texts, err.Error())
	}
	e.clk.Advance(13 * time.Hour)
	if _, err := e.sm.Sweep(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		texts = append(texts, err.Error())
	}

	for _, ev := range e.rec.all() {
		b, _ := json.Marshal(ev)
		texts = append(texts, string(b), fmt.Sprintf("%+v", ev))
	}
	texts = append(texts, logs.String())
	if len(e.rec.all()) < 5 || logs.Len() == 0 {
		t.Fatalf("the scenario produced too little output to check (%d events, %d log bytes)", len(e.rec.all()), logs.Len())
	}
	for _, txt := range texts {
		for _, sec := range secrets {
			if strings.Contains(txt, sec) {
				t.Fatalf("a session secret leaked into: %.200s", txt)
			}
		}
	}
}
