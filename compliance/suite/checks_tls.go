package suite

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// minHSTS is the shortest Strict-Transport-Security max-age accepted: a
// year, what browsers' preload lists ask for.
const minHSTS = 365 * 24 * time.Hour

// certWarning is how close to expiry a certificate fails the check.
const certWarning = 14 * 24 * time.Hour

// checkTLS (live deployments only): TLS 1.0 and 1.1 are refused, as is
// every cipher suite without forward secrecy or with a broken primitive;
// what a current client negotiates is TLS 1.2 with an ECDHE AEAD suite or
// TLS 1.3; the certificate is valid for the host and not about to expire.
func (r *runner) checkTLS(t T, control string) {
	rm := r.remote
	state, err := rm.handshake(&tls.Config{})
	if err != nil {
		t.Errorf("%s: a TLS 1.2+ handshake with %s failed: %v", control, rm.base.Host, err)
	} else {
		suite := tls.CipherSuiteName(state.CipherSuite)
		t.Logf("%s: %s negotiates %s with %s", control, rm.base.Host, tls.VersionName(state.Version), suite)
		if state.Version == tls.VersionTLS12 && !(strings.HasPrefix(suite, "TLS_ECDHE_") &&
			(strings.Contains(suite, "_GCM_") || strings.Contains(suite, "CHACHA20"))) {
			t.Errorf("%s: %s negotiates %s, which is not an ECDHE AEAD suite", control, rm.base.Host, suite)
		}
		if len(state.PeerCertificates) > 0 {
			if left := state.PeerCertificates[0].NotAfter.Sub(time.Now()); left < certWarning {
				t.Errorf("%s: the certificate of %s expires in %s", control, rm.base.Host, left.Round(time.Hour))
			}
		}
	}
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if _, err := rm.handshake(&tls.Config{MinVersion: v, MaxVersion: v}); err == nil {
			t.Errorf("%s: %s accepts %s; only TLS 1.2 and 1.3 are acceptable (NIST SP 800-52r2)", control, rm.base.Host, tls.VersionName(v))
		}
	}
	for _, cs := range weakSuites() {
		cfg := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{cs.ID}}
		if _, err := rm.handshake(cfg); err == nil {
			t.Errorf("%s: %s accepts the weak cipher suite %s", control, rm.base.Host, cs.Name)
		}
	}
}

// weakSuites are the TLS 1.2 suites a deployment must refuse: those Go
// marks insecure (RC4, 3DES, CBC-SHA256, static RSA) and every static-RSA
// key exchange (no forward secrecy).
func weakSuites() []*tls.CipherSuite {
	var out []*tls.CipherSuite
	for _, cs := range tls.InsecureCipherSuites() {
		if supportsTLS12(cs) {
			out = append(out, cs)
		}
	}
	for _, cs := range tls.CipherSuites() {
		if strings.HasPrefix(cs.Name, "TLS_RSA_") && supportsTLS12(cs) {
			out = append(out, cs)
		}
	}
	return out
}

func supportsTLS12(cs *tls.CipherSuite) bool {
	for _, v := range cs.SupportedVersions {
		if v == tls.VersionTLS12 {
			return true
		}
	}
	return false
}

// handshake opens one TLS connection to the deployment with cfg (its
// roots and server name added), within the request budget, and closes it.
func (rm *remote) handshake(cfg *tls.Config) (tls.ConnectionState, error) {
	if n := rm.sent.Add(1); n > rm.max {
		return tls.ConnectionState{}, errBudget(rm.max)
	}
	cfg.RootCAs, cfg.ServerName = rm.tlsConf.RootCAs, rm.tlsConf.ServerName
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	ctx, cancel := context.WithTimeout(rm.ctx, 10*time.Second)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", rm.hostport)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

// checkHSTS: a response over HTTPS tells browsers to use nothing else for
// at least a year.
func checkHSTS(t T, control, what string, res response) {
	v := res.header.Get("Strict-Transport-Security")
	if v == "" {
		t.Errorf("%s: %s lacks Strict-Transport-Security", control, what)
		return
	}
	for _, part := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "max-age") {
			if secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && time.Duration(secs)*time.Second >= minHSTS {
				return
			}
		}
	}
	t.Errorf("%s: %s sends Strict-Transport-Security %q, want max-age of at least a year", control, what, v)
}

// checkCookieFlags: every cookie a login set is Secure, HttpOnly, SameSite
// Strict or Lax, and bound to the exact host (no Domain).
func (r *runner) checkCookieFlags(t T, control string) {
	rm := r.remote
	rm.mu.Lock()
	cookies := append([]*http.Cookie(nil), rm.cookies...)
	rm.mu.Unlock()
	if len(cookies) == 0 {
		t.Errorf("%s: no login set a cookie; cannot check the session cookie's flags", control)
		return
	}
	seen := map[string]bool{}
	for _, c := range cookies {
		if seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		var missing []string
		if !c.Secure {
			missing = append(missing, "Secure")
		}
		if !c.HttpOnly {
			missing = append(missing, "HttpOnly")
		}
		if c.SameSite != http.SameSiteStrictMode && c.SameSite != http.SameSiteLaxMode {
			missing = append(missing, "SameSite=Strict or Lax")
		}
		if c.Domain != "" {
			missing = append(missing, "no Domain attribute")
		}
		if len(missing) > 0 {
			t.Errorf("%s: the login cookie %s lacks %s", control, c.Name, strings.Join(missing, ", "))
		}
	}
}
