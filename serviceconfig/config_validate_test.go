package serviceconfig_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/serviceconfig"
)

// Found in review: PublicDatabaseURL kept sslpassword, and kept whole a URL
// whose password holds '#' (pgx reads the password "12#34", net/url a
// fragment), so secrets reached hipaakit.json.
func TestPublicDatabaseURLDropsEverySecret(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h/db?sslpassword=KEYPASS":                                   "postgres://u@h/db",
		"postgres://u@h/db?sslmode=require&api_key=K3Y":                              "postgres://u@h/db?sslmode=require",
		"postgres://u@h/db?application_name=clinic&PassWord=S3CRET":                  "postgres://u@h/db?application_name=clinic",
		"postgres://report:S3CRET@h1,h2:5433/clinic?target_session_attrs=read-write": "postgres://report@h1,h2:5433/clinic?target_session_attrs=read-write",
	} {
		got, err := serviceconfig.PublicDatabaseURL(in)
		if err != nil || got != want {
			t.Errorf("PublicDatabaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"postgres://clinic:12#34@db.example/clinic",        // pgx: password 12#34; net/url: fragment
		"postgres://u@h/db#S3CRET",                         // a fragment
		"postgres://h/db?sslmode=disable@S3CRET.example/x", // pgx: user info up to '@', host S3CRET.example
	} {
		got, err := serviceconfig.PublicDatabaseURL(in)
		if err == nil {
			t.Errorf("PublicDatabaseURL(%q) = %q, want an error", in, got)
			continue
		}
		if strings.Contains(err.Error(), "S3CRET") || strings.Contains(err.Error(), "34") {
			t.Errorf("error quotes the URL: %v", err)
		}
	}
}

// A hand-written database_url with a secret parameter or a '#' is refused
// at load, as a password is.
func TestServiceConfigRefusesSecretDatabaseURL(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u@h/db?sslpassword=S3CRET",
		"postgres://u@h/db?api_key=S3CRET",
		"postgres://clinic:12#S3CRET@db.example/clinic",
	} {
		b, err := json.Marshal(map[string]any{
			"version": 1, "service": "clinic", "database_url": dsn, "audit_keys": []string{rfc8032Key}, "kek": "local",
			"policy": map[string]any{"require_mfa": true, "idle_timeout": "15m", "absolute_timeout": "12h", "lockout_threshold": 10, "password_min_length": 8},
			"backup": map[string]any{"target": "none"},
		})
		must(t, err)
		_, err = serviceconfig.Parse(b)
		var ce *serviceconfig.FieldError
		if !errors.As(err, &ce) || ce.Field != "database_url" || strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("%q: %v, want a FieldError for database_url", dsn, err)
		}
	}
	b, _ := json.Marshal(map[string]any{
		"version": 1, "service": "clinic", "database_url": "postgres://u@h/db?sslmode=require", "audit_keys": []string{rfc8032Key}, "kek": "local",
		"policy": map[string]any{"require_mfa": true, "idle_timeout": "15m", "absolute_timeout": "12h", "lockout_threshold": 10, "password_min_length": 8},
		"backup": map[string]any{"target": "none"},
	})
	if _, err := serviceconfig.Parse(b); err != nil {
		t.Fatalf("a public URL refused: %v", err)
	}
}
