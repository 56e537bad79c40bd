package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

func FuzzParseToken(f *testing.F) {
	f.Add("hks1_" + strings.Repeat("A", 43))
	f.Add("hks1_" + strings.Repeat("_", 42) + "-")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		h, err := parseToken(tok)
		if err != nil {
			if len(tok) >= 8 && strings.Contains(err.Error(), tok) {
				t.Fatal("error echoes the token")
			}
			return
		}
		if len(tok) != tokenLen || !strings.HasPrefix(tok, tokenPrefix) || h != hashToken(tok) {
			t.Fatal("accepted a token outside the format")
		}
	})
}

func FuzzCookieValue(f *testing.F) {
	f.Add("__Host-hk_session=hks1_x; other=1", "__Host-hk_session")
	f.Add("a=1;a=2", "a")
	f.Add(" ; ;=;", "")
	f.Fuzz(func(t *testing.T, line, name string) {
		v, ok := cookieValue([]string{line}, name)
		if ok && (v == "" || !strings.Contains(line, v)) {
			t.Fatal("value not taken from the header")
		}
		if ok && strings.Count(line, name) == 0 {
			t.Fatal("found a cookie whose name is not in the header")
		}
	})
}

// FuzzSessionMiddleware sends arbitrary Cookie and Authorization headers
// through the session middleware: only the one valid token may pass, and
// nothing panics.
func FuzzSessionMiddleware(f *testing.F) {
	users := NewMemoryUserStore()
	u := &User{ID: NewUserID(), TenantID: "t", Name: "ana", Status: StatusActive}
	if err := users.Create(f.Context(), u); err != nil {
		f.Fatal(err)
	}
	m := NewSessionManager(NewMemorySessionStore(), users, audit.Discard{})
	m.AllowBearer = true
	_, valid, err := m.Begin(f.Context(), nil, nil, u, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(DefaultCookieName+"="+valid, "")
	f.Add(DefaultCookieName+"=hks1_"+strings.Repeat("A", 43), "Bearer x")
	f.Add("", "Bearer "+strings.Repeat("hks1_", 10))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	f.Fuzz(func(t *testing.T, cookie, authz string) {
		r := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, r)
		if rr.Code == 200 && !strings.Contains(cookie+authz, valid) {
			t.Fatal("a request without the valid token passed")
		}
		if rr.Code != 200 && rr.Code != 401 {
			t.Fatalf("status %d", rr.Code)
		}
	})
}
