package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The HTML login and logout forms refuse cross-origin posts exactly as the
// API does (auth.Service.CheckCrossOrigin): an Origin naming another
// host, or Sec-Fetch-Site cross-site or same-site.
func TestFormPostsRefuseCrossOrigin(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	form := url.Values{"username": {"nobody"}, "password": {"wrong password"}, "code": {"000000"}}.Encode()
	for _, path := range []string{"/login", "/logout"} {
		for _, hdr := range [][2]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}} {
			r := httptest.NewRequest("POST", "https://clinic.example"+path, strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set(hdr[0], hdr[1])
			rec := httptest.NewRecorder()
			tc.srv.Config.Handler.ServeHTTP(rec, r)
			if rec.Code != http.StatusForbidden {
				t.Errorf("POST %s with %s: %s: status %d, want 403", path, hdr[0], hdr[1], rec.Code)
			}
		}
	}
	// A same-origin post reaches the login (and fails on the credentials).
	r := httptest.NewRequest("POST", "https://clinic.example/login", strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://clinic.example")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	rec := httptest.NewRecorder()
	tc.srv.Config.Handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("same-origin login post: status %d, want 401", rec.Code)
	}
}
