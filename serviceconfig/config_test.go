package serviceconfig_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/serviceconfig"
	"github.com/hipaakit/hipaakit/signing"
)

const rfc8032Key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

func policy(idle, abs time.Duration) serviceconfig.Policy {
	return serviceconfig.Policy{RequireMFA: true, IdleTimeout: serviceconfig.Duration(idle), AbsoluteTimeout: serviceconfig.Duration(abs),
		LockoutThreshold: 10, PasswordMinLength: 8}
}

// TestLoadServiceConfigGolden opens the version 1 golden files and checks
// every field, relative paths resolved against the file's directory.
func TestLoadServiceConfigGolden(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "serviceconfig"))
	must(t, err)
	got, err := serviceconfig.Load(filepath.Join(dir, "v1.json"))
	must(t, err)
	north := policy(10*time.Minute, 8*time.Hour)
	north.TenantID, north.LockoutThreshold, north.PasswordMinLength, north.PasswordBlocklist = "north-clinic", 5, 12, "default"
	want := serviceconfig.Config{Version: 1, Service: "clinic", DataDir: dir, AuditKeys: []string{rfc8032Key}, KEK: "local",
		Policy: policy(15*time.Minute, 12*time.Hour), Tenants: []serviceconfig.Policy{north},
		EmergencyRoles: []string{"emergency"}, TLS: serviceconfig.TLS{Enabled: true, MinVersion: "1.2", HSTS: true},
		AuditRetention: "P6Y", Retention: []serviceconfig.RetentionRule{{Kind: "audit", Keep: "P6Y"}, {Kind: "patient", Keep: "P10Y"}},
		Backup: serviceconfig.Backup{Target: "directory"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v1.json\n got %+v\nwant %+v", got, want)
	}

	pg, err := serviceconfig.Load(filepath.Join(dir, "v1-postgres.json"))
	must(t, err)
	if pg.DatabaseURL != "postgres://clinic_report@db.internal:5432/clinic?sslmode=verify-full" || pg.DatabaseSchema != "clinic" ||
		pg.LedgerSchema != "clinic_ledger" || pg.DataDir != "/var/lib/clinic" || pg.Backup.Dir != filepath.Join(dir, "backups") ||
		!strings.HasPrefix(pg.KEK, "aws-kms:arn:aws:kms:") || pg.TLS.MinVersion != "1.3" || len(pg.LedgerKeys) != 1 {
		t.Fatalf("v1-postgres.json: %+v", pg)
	}
}

// TestServiceConfigRoundTrip: what a service marshals is what the report
// loads.
func TestServiceConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := sampleConfig(dir)
	cfg.MasterKey = "hipaakit-local-kek-v1:SECRET"
	written := cfg
	written.DataDir = "." // relative to the file, resolved by Load
	path := filepath.Join(dir, serviceconfig.FileName)
	must(t, serviceconfig.Write(path, written))
	raw, err := os.ReadFile(path)
	must(t, err)
	if strings.Contains(string(raw), "SECRET") {
		t.Fatal("the master key was written to the configuration file")
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode: %v %v", st.Mode(), err)
	}
	got, err := serviceconfig.Load(path)
	must(t, err)
	cfg.MasterKey = ""
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, cfg)
	}
	bad := cfg
	bad.Policy.LockoutThreshold = 0
	if err := serviceconfig.Write(filepath.Join(dir, "bad.json"), bad); !errors.Is(err, serviceconfig.ErrInvalid) {
		t.Fatalf("an invalid config was written: %v", err)
	}
	b, err := json.Marshal(cfg.Policy)
	must(t, err)
	if !strings.Contains(string(b), `"idle_timeout":"15m0s"`) {
		t.Fatalf("durations are written in Go syntax: %s", b)
	}
}

func TestServiceConfigRejects(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{
			"version": 1, "service": "clinic", "data_dir": ".", "audit_keys": []string{rfc8032Key}, "kek": "local",
			"policy":          map[string]any{"require_mfa": true, "idle_timeout": "15m", "absolute_timeout": "12h", "lockout_threshold": 10, "password_min_length": 8},
			"emergency_roles": []string{"emergency"}, "tls": map[string]any{"enabled": true, "min_version": "1.2", "hsts": true},
			"retention": []map[string]string{{"kind": "audit", "keep": "P6Y"}}, "backup": map[string]any{"target": "directory"},
		}
	}
	b, _ := json.Marshal(base())
	if _, err := serviceconfig.Parse(b); err != nil {
		t.Fatalf("base config refused: %v", err)
	}
	const secret = "S3CRETPW"
	pol := func(k string, v any) func(m map[string]any) {
		return func(m map[string]any) { m["policy"].(map[string]any)[k] = v }
	}
	cases := []struct {
		name, field string
		mutate      func(m map[string]any)
	}{
		{"unknown top-level field", "databse_url", func(m map[string]any) { m["databse_url"] = "postgres://u:" + secret + "@h/db" }},
		{"unknown nested field", "idle_timout", pol("idle_timout", "15m")},
		{"missing service", "service", func(m map[string]any) { delete(m, "service") }},
		{"no stores", "data_dir", func(m map[string]any) { delete(m, "data_dir") }},
		{"not a postgres URL", "database_url", func(m map[string]any) { m["database_url"] = "mysql://u:" + secret + "@h/db" }},
		{"password in URL", "database_url", func(m map[string]any) { m["database_url"] = "postgres://u:" + secret + "@h/db" }},
		{"password parameter", "database_url", func(m map[string]any) { m["database_url"] = "postgres://u@h/db?password=" + secret }},
		{"bad schema", "database_schema", func(m map[string]any) {
			m["database_url"], m["database_schema"] = "postgres://u@h/db", "x\x00y"
		}},
		{"schema without database", "database_schema", func(m map[string]any) { m["database_schema"] = "clinic" }},
		{"no audit key", "audit_keys", func(m map[string]any) { m["audit_keys"] = []string{} }},
		{"short audit key", "audit_keys[0]", func(m map[string]any) { m["audit_keys"] = []string{"AAAA"} }},
		{"bad ledger key", "ledger_keys[0]", func(m map[string]any) { m["ledger_keys"] = []string{secret} }},
		{"unknown KEK", "kek", func(m map[string]any) { m["kek"] = "vault:" + secret }},
		{"empty KMS id", "kek", func(m map[string]any) { m["kek"] = "aws-kms:" }},
		{"KMS with key file", "kek_file", func(m map[string]any) { m["kek"], m["kek_file"] = "aws-kms:alias/x", "kek.key" }},
		{"KMS endpoint with a local KEK", "kms_endpoint", func(m map[string]any) { m["kms_endpoint"] = "https://kms.example" }},
		{"KMS endpoint not a URL", "kms_endpoint", func(m map[string]any) { m["kek"], m["kms_endpoint"] = "aws-kms:alias/x", "kms.example:"+secret }},
		{"idle too long", "policy.idle_timeout", pol("idle_timeout", "48h")},
		{"idle not a duration", "policy.idle_timeout", pol("idle_timeout", "fifteen minutes")},
		{"tenant duration not a string", "tenants.absolute_timeout", func(m map[string]any) {
			m["tenants"] = []map[string]any{{"tenant_id": "a", "require_mfa": true, "idle_timeout": "15m", "absolute_timeout": 12, "lockout_threshold": 10, "password_min_length": 8}}
		}},
		{"absolute below idle", "policy.absolute_timeout", pol("absolute_timeout", "5m")},
		{"no lockout", "policy.lockout_threshold", pol("lockout_threshold", 0)},
		{"no minimum length", "policy.password_min_length", pol("password_min_length", 0)},
		{"bad blocklist", "policy.password_blocklist", pol("password_blocklist", "rockyou")},
		{"tenant in default policy", "policy.tenant_id", pol("tenant_id", "a")},
		{"tenant without id", "tenants[0].tenant_id", func(m map[string]any) {
			m["tenants"] = []map[string]any{{"require_mfa": true, "idle_timeout": "15m", "absolute_timeout": "12h", "lockout_threshold": 10, "password_min_length": 8}}
		}},
		{"bad emergency role", "emergency_roles[0]", func(m map[string]any) { m["emergency_roles"] = []string{"break glass"} }},
		{"TLS without version", "tls.min_version", func(m map[string]any) { m["tls"] = map[string]any{"enabled": true} }},
		{"HSTS without TLS", "tls.hsts", func(m map[string]any) { m["tls"] = map[string]any{"enabled": false, "hsts": true} }},
		{"bad retention period", "retention[0].keep", func(m map[string]any) { m["retention"] = []map[string]string{{"kind": "audit", "keep": "6 years"}} }},
		{"kind twice", "retention", func(m map[string]any) {
			m["retention"] = []map[string]string{{"kind": "audit", "keep": "P6Y"}, {"kind": "audit", "keep": "P7Y"}}
		}},
		{"absurd audit retention", "audit_retention", func(m map[string]any) { m["audit_retention"] = "P999999Y" }},
		{"unknown backup target", "backup.target", func(m map[string]any) { m["backup"] = map[string]any{"target": "tape"} }},
		{"s3 without bucket", "backup.bucket", func(m map[string]any) { m["backup"] = map[string]any{"target": "s3"} }},
		{"s3 bad prefix", "backup.prefix", func(m map[string]any) {
			m["backup"] = map[string]any{"target": "s3", "bucket": "bkt", "prefix": "clinic"}
		}},
		{"s3 bad endpoint", "backup.endpoint", func(m map[string]any) {
			m["backup"] = map[string]any{"target": "s3", "bucket": "bkt", "endpoint": "minio:" + secret}
		}},
		{"bucket for a directory", "backup.bucket", func(m map[string]any) { m["backup"] = map[string]any{"target": "directory", "bucket": "bkt"} }},
		{"wrong type", "policy.lockout_threshold", pol("lockout_threshold", "ten")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.mutate(m)
			b, err := json.Marshal(m)
			must(t, err)
			_, err = serviceconfig.Parse(b)
			var ce *serviceconfig.FieldError
			if !errors.Is(err, serviceconfig.ErrInvalid) || !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("err = %v, want a FieldError for %s", err, tc.field)
			}
			if !strings.HasPrefix(err.Error(), "serviceconfig: ") || strings.Contains(err.Error(), secret) {
				t.Fatalf("message %q", err)
			}
		})
	}
}

func TestPublicDatabaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://report:S3CRET@db:5432/clinic?sslmode=verify-full":        "postgres://report@db:5432/clinic?sslmode=verify-full",
		"postgresql://db/clinic?password=S3CRET&sslmode=require&user=report": "postgresql://db/clinic?sslmode=require&user=report",
		"postgres://report@db/clinic":                                        "postgres://report@db/clinic",
	} {
		got, err := serviceconfig.PublicDatabaseURL(in)
		if err != nil || got != want {
			t.Errorf("PublicDatabaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := serviceconfig.PublicDatabaseURL("mysql://u:S3CRET@h/db"); err == nil || strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("non-postgres URL: %v", err)
	}
}

func TestServiceConfigVersionAndDocument(t *testing.T) {
	for _, doc := range []string{`{"version":2,"service":"x"}`, `{"version":0}`} {
		if _, err := serviceconfig.Parse([]byte(doc)); !errors.Is(err, serviceconfig.ErrUnsupportedVersion) {
			t.Errorf("%s: %v", doc, err)
		}
	}
	for _, doc := range []string{``, `[]`, `{"service":"x"}`, `{"version":"1"}`, `{"version":1} {}`, strings.Repeat(" ", 1<<20+1)} {
		if _, err := serviceconfig.Parse([]byte(doc)); !errors.Is(err, serviceconfig.ErrInvalid) {
			t.Errorf("%.40q: %v", doc, err)
		}
	}
	if _, err := serviceconfig.Load(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParseServiceConfig: no input panics; an accepted document survives a
// marshal and parse round trip unchanged; errors never repeat the input.
func FuzzParseServiceConfig(f *testing.F) {
	for _, name := range []string{"v1.json", "v1-postgres.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "serviceconfig", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"service":"CANARYPW","policy":{"idle_timeout":"CANARYPW"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := serviceconfig.Parse(b)
		if err != nil {
			if strings.Contains(err.Error(), "CANARYPW") {
				t.Fatalf("error echoes input: %v", err)
			}
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := serviceconfig.Parse(out)
		if err != nil {
			t.Fatalf("re-parse of an accepted config: %v", err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the config\n%+v\n%+v", c, again)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sampleConfig is a valid configuration of a file deployment in dir.
func sampleConfig(dir string) serviceconfig.Config {
	return serviceconfig.Config{
		Version: 1, Service: "clinic", DataDir: dir,
		AuditKeys: []string{pemKey(make([]byte, 32))},
		KEK:       "local",
		Policy: serviceconfig.Policy{RequireMFA: true, IdleTimeout: serviceconfig.Duration(15 * time.Minute),
			AbsoluteTimeout: serviceconfig.Duration(12 * time.Hour), LockoutThreshold: 10, PasswordMinLength: 8},
		EmergencyRoles: []string{"emergency"},
		TLS:            serviceconfig.TLS{Enabled: true, MinVersion: "1.2", HSTS: true},
		AuditRetention: "P6Y",
		Retention:      []serviceconfig.RetentionRule{{Kind: "audit", Keep: "P6Y"}, {Kind: "patient", Keep: "P10Y"}},
		Backup:         serviceconfig.Backup{Target: "directory"},
	}
}

// pemKey returns pub as a configuration file's audit_keys entry holds it
// (a key of the wrong length gives an entry that fails validation).
func pemKey(pub ed25519.PublicKey) string {
	b, _ := signing.EncodePublicKey(pub)
	return string(b)
}

// TestConfigKeySets: the key accessors return signing.KeySets, the current
// key first; the ledger's keys default to the audit keys; TrustedKeys is
// their union, each key once.
func TestConfigKeySets(t *testing.T) {
	a := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	b := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	c := sampleConfig(t.TempDir())
	c.AuditKeys = []string{pemKey(a), base64.StdEncoding.EncodeToString(b)}
	if ks := c.AuditPublicKeys().Keys(); len(ks) != 2 || !ks[0].Equal(a) || !ks[1].Equal(b) {
		t.Fatalf("AuditPublicKeys = %d keys", len(ks))
	}
	if ks := c.LedgerPublicKeys().Keys(); len(ks) != 2 || !ks[0].Equal(a) {
		t.Fatalf("LedgerPublicKeys without ledger_keys = %d keys", len(ks))
	}
	c.LedgerKeys = []string{pemKey(b)}
	if ks := c.LedgerPublicKeys().Keys(); len(ks) != 1 || !ks[0].Equal(b) {
		t.Fatalf("LedgerPublicKeys = %d keys", len(ks))
	}
	c.AuditKeys = c.AuditKeys[:1]
	trusted, err := c.TrustedKeys()
	must(t, err)
	if ks := trusted.Keys(); len(ks) != 2 || !ks[0].Equal(a) || !ks[1].Equal(b) {
		t.Fatalf("TrustedKeys = %d keys", len(ks))
	}
	if _, err := trusted.Lookup(signing.KeyID(b)); err != nil {
		t.Fatalf("the ledger key is not trusted: %v", err)
	}
	must(t, c.Validate())
}
