package auth_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/hipaakit/hipaakit/auth"
)

func TestCheckCrossOrigin(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		method, hdr, val string
		ok               bool
	}{
		{"POST", "Origin", "https://evil.example", false},
		{"POST", "Sec-Fetch-Site", "cross-site", false},
		{"POST", "Sec-Fetch-Site", "same-site", false},
		{"POST", "Sec-Fetch-Site", "same-origin", true},
		{"POST", "Origin", "https://clinic.example", true},
		{"GET", "Sec-Fetch-Site", "cross-site", true},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "https://clinic.example/login", nil)
		r.Header.Set(c.hdr, c.val)
		err := e.sm.CheckCrossOrigin(r)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, auth.ErrCSRF)) {
			t.Errorf("%s %s: %s: %v", c.method, c.hdr, c.val, err)
		}
	}
}
