package hipaakit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms/kmstest"
)

// TestValidateRefuses: each unsafe combination is refused before anything
// is created, with a *ConfigError naming the field and saying what to do.
func TestValidateRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	noMFA, err := policy.NewTenants(policy.Tenant{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cfg         hipaakit.Config
		field, want string
		cause       error
	}{
		"no data dir": {hipaakit.Config{}, "DataDir", "name the directory", nil},
		"backup dir inside the data dir": {hipaakit.Config{DataDir: dir, Backup: hipaakit.BackupConfig{Dir: filepath.Join(dir, "backups")}},
			"Backup.Dir", "choose a directory outside DataDir", nil},
		"backup dir is the data dir": {hipaakit.Config{DataDir: dir, Backup: hipaakit.BackupConfig{Dir: dir + "/."}},
			"Backup.Dir", "outside DataDir", nil},
		"MFA without a sealer": {hipaakit.Config{DataDir: dir, Auth: hipaakit.AuthConfig{WithoutTOTP: true}},
			"Auth.WithoutTOTP", "remove Auth.WithoutTOTP", auth.ErrMFAWithoutSealer},
		"local key and KMS": {hipaakit.Config{DataDir: dir, KEK: hipaakit.KEKConfig{Key: "k", KMSKeyID: "arn"}},
			"KEK", "set one of KEK.Key (HIPAAKIT_MASTER_KEY)", nil},
		"key file and KMS": {hipaakit.Config{DataDir: dir, KEK: hipaakit.KEKConfig{KeyFile: "/k", KMSKeyID: "arn"}},
			"KEK", "set one of KEK.KeyFile (HIPAAKIT_MASTER_KEY_FILE)", nil},
		"KMS endpoint alone": {hipaakit.Config{DataDir: dir, KEK: hipaakit.KEKConfig{KMSEndpoint: "http://127.0.0.1:1"}},
			"KEK.KMSEndpoint", "set the KMS key ID", nil},
		"S3 endpoint alone": {hipaakit.Config{DataDir: dir, Backup: hipaakit.BackupConfig{S3Endpoint: "http://127.0.0.1:1"}},
			"Backup.S3Endpoint", "set the bucket", nil},
		"app dir outside": {hipaakit.Config{DataDir: dir, AppDirs: []string{"../elsewhere"}}, "AppDirs", "relative to DataDir", nil},
		"app dir a store": {hipaakit.Config{DataDir: dir, AppDirs: []string{"keys"}}, "AppDirs", "other than the Layout names", nil},
		"directory and bucket": {hipaakit.Config{DataDir: dir, Backup: hipaakit.BackupConfig{Dir: "/b", S3Bucket: "b"}},
			"Backup", "set one of", nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := hipaakit.Open(context.Background(), tc.cfg)
			var ce *hipaakit.ConfigError
			if !errors.Is(err, hipaakit.ErrUnsafeConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("Open: %v, want a ConfigError on %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "hipaakit: ") {
				t.Fatalf("message %q does not say %q", err, tc.want)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("%v does not match %v", err, tc.cause)
			}
			if strings.Contains(err.Error(), dir) {
				t.Fatalf("message %q holds an absolute path", err)
			}
		})
	}
	// Without MFA anywhere, WithoutTOTP is accepted.
	cfg, _ := embedded(t, nil)
	cfg.Auth = hipaakit.AuthConfig{WithoutTOTP: true, Tenants: noMFA}
	open(t, cfg)
}

// TestKMSOverLocalKeysRefused: AWS KMS over a key store whose keysets a
// local master key wrapped is refused, pointing to hipaakit kek migrate.
func TestKMSOverLocalKeysRefused(t *testing.T) {
	cfg, _ := embedded(t, nil)
	d := open(t, cfg)
	if _, err := d.Vault.Seal(context.Background(), phi.Binding{Subject: "p1", Field: "f"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	d.Close()
	srv := kmstest.NewServer(t)
	awsEnv(t)
	cfg.KEK = hipaakit.KEKConfig{KMSKeyID: srv.KeyARN(), KMSEndpoint: srv.URL()}
	_, err := hipaakit.Open(context.Background(), cfg)
	var ce *hipaakit.ConfigError
	if !errors.Is(err, hipaakit.ErrKMSOverLocalKeys) || !errors.Is(err, hipaakit.ErrUnsafeConfig) || !errors.As(err, &ce) ||
		ce.Field != "KEK.KMSKeyID" || !strings.Contains(err.Error(), "hipaakit kek migrate") {
		t.Fatalf("Open under KMS over local keys: %v", err)
	}
}

// awsEnv gives the AWS SDK's default chain static test credentials.
func awsEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDHIPAAKITTEST", "AWS_SECRET_ACCESS_KEY": "hipaakit-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
}

// TestNoSecretLeaks: neither the master key nor the database password
// appears in an error, a log line or a printed Config or Deployment.
func TestNoSecretLeaks(t *testing.T) {
	const pw = "CANARY-PW-7f3a"
	key := "hipaakit-local-kek-v1:Q0FOQVJZLWtleS1ub3QtYS1rZXktQ0FOQVJZLWtleS0"
	logs := &bytes.Buffer{}
	cfg, _ := embedded(t, logs)
	var outputs []string
	check := func() {
		t.Helper()
		for _, o := range append(outputs, logs.String()) {
			if strings.Contains(o, pw) || strings.Contains(o, "Q0FOQVJZ") || strings.Contains(o, "CANARY") {
				t.Fatalf("a secret leaked: %q", o)
			}
		}
	}
	// A malformed master key, a database URL that does not parse, an
	// unreachable database.
	bad := cfg
	bad.KEK.Key = "CANARY-not-a-key"
	_, err := hipaakit.Open(context.Background(), bad)
	if err == nil {
		t.Fatal("Open with a malformed key")
	}
	outputs = append(outputs, err.Error())
	bad = cfg
	bad.DatabaseURL = "postgres://u:" + pw + "@[::1/db"
	if _, err = hipaakit.Open(context.Background(), bad); !errors.Is(err, hipaakit.ErrBadDatabaseURL) {
		t.Fatalf("bad URL: %v", err)
	}
	outputs = append(outputs, err.Error())
	bad.DatabaseURL = "postgres://u:" + pw + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"
	if _, err = hipaakit.Open(context.Background(), bad); !errors.Is(err, hipaakit.ErrDatabaseUnreachable) {
		t.Fatalf("unreachable: %v", err)
	}
	outputs = append(outputs, err.Error())
	// A working deployment with a real key given by value.
	cfg.KEK.Key = key
	good, err := hipaakit.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	good.Close()
	cfg.DatabaseURL = bad.DatabaseURL
	slog.New(slog.NewTextHandler(logs, nil)).Info("config", "cfg", cfg, "deployment", good)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outputs = append(outputs, sprintf(verb, cfg), sprintf(verb, good))
	}
	if _, err := jsonMarshal(cfg); err == nil {
		t.Fatal("a Config was serialised")
	}
	check()
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := hipaakit.ConfigFromEnv(env(map[string]string{hipaakit.EnvDataDir: "/srv/d", hipaakit.EnvMasterKeyFile: "/k",
		hipaakit.EnvDatabaseURL: "postgres://h/db", hipaakit.EnvS3Bucket: "b"}))
	if err != nil || c.DataDir != "/srv/d" || c.KEK.KeyFile != "/k" || c.DatabaseURL != "postgres://h/db" || c.Backup.S3Bucket != "b" {
		t.Fatalf("ConfigFromEnv: %v %v", c, err)
	}
	for name, m := range map[string]map[string]string{
		"HIPAAKIT_KEK":        {"HIPAAKIT_KEK": "x"},
		"HIPAAKIT_KEK_FILE":   {"HIPAAKIT_KEK_FILE": "x"},
		hipaakit.EnvMasterKey: {hipaakit.EnvMasterKey: "x", hipaakit.EnvMasterKeyFile: "y"},
	} {
		var ce *hipaakit.ConfigError
		if _, err := hipaakit.ConfigFromEnv(env(m)); !errors.As(err, &ce) || ce.Field != name || !strings.Contains(err.Error(), "HIPAAKIT_MASTER_KEY") {
			t.Errorf("%v: %v", m, err)
		}
	}
}
