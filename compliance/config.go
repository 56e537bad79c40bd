package compliance

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/internal/fsutil"
	"github.com/hipaakit/hipaakit/retention"
)

// ServiceConfigVersion is the version of the service configuration format
// this code reads and writes.
const ServiceConfigVersion = 1

// ServiceConfigFileName is the name a service gives its configuration file
// inside its data directory, where "hipaakit report" expects to find it.
const ServiceConfigFileName = "hipaakit.json"

// maxRetentionDays bounds the audit retention (200 years), far from
// time.Duration's limit.
const maxRetentionDays = 200 * 365

// maxConfigFile bounds the size of a configuration file.
const maxConfigFile = 1 << 20

// Configuration errors. Every error LoadServiceConfig and
// ParseServiceConfig return matches one of them with errors.Is; a
// *ConfigError names the field. Messages never quote values, which may hold
// a database password.
var (
	// ErrInvalidConfig reports a configuration that does not parse or breaks
	// a rule.
	ErrInvalidConfig = errors.New("compliance: invalid service configuration")
	// ErrUnsupportedVersion reports a configuration of another format
	// version.
	ErrUnsupportedVersion = errors.New("compliance: unsupported service configuration version")
)

// ConfigError details an ErrInvalidConfig: which field and which rule.
type ConfigError struct {
	Field  string // JSON path, e.g. "policy.idle_timeout"
	Reason string
}

func (e *ConfigError) Error() string {
	return "compliance: invalid service configuration: " + e.Field + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func cfgErr(field, format string, a ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// ServiceConfig says where a deployment's stores are and which policy is in
// force; "hipaakit report" reads it (Collect) to build the control-mapping
// report. It is a JSON document, format version 1:
//
//	{
//	  "version": 1,
//	  "service": "clinic",
//	  "data_dir": ".",
//	  "audit_keys": ["MCowBQYDK2VwAyEA..."],
//	  "kek": "local",
//	  "policy": {"require_mfa": true, "idle_timeout": "15m", "absolute_timeout": "12h",
//	             "lockout_threshold": 10, "password_min_length": 8},
//	  "emergency_roles": ["emergency"],
//	  "tls": {"enabled": true, "min_version": "1.2", "hsts": true},
//	  "audit_retention": "P6Y",
//	  "retention": [{"kind": "audit", "keep": "P6Y"}, {"kind": "patient", "keep": "P10Y"}],
//	  "backup": {"target": "directory"}
//	}
//
// Unknown members are errors. Durations use Go's syntax ("90s", "15m",
// "12h"); retention periods ISO 8601 ("P6Y", "P18M"). Relative paths are
// resolved against the directory of the configuration file, so a service
// that writes the file into its data directory (as ServiceConfigFileName)
// sets "data_dir": ".".
//
// Stores: with data_dir, the embedded file stores under it are read:
// keys/ (phi/filestore), audit/ (audit file log), ledger/ (disposal file
// ledger), users/ (auth file user store), holds/ (retention file hold
// store), backups/ (backup directory target) and the local master key
// kek.key. With database_url, the PostgreSQL stores are read instead
// (phi/pgstore, audit/pgaudit, disposal/pgledger streams, auth/pgauth users,
// retention/pgretention holds), in database_schema (default: the URL's
// search_path) and, for the disposal ledger, ledger_schema (default
// database_schema); data_dir then only locates kek.key and backups/. Keep
// the database password out of the file: pgx reads PGPASSWORD and
// ~/.pgpass. Backups are read from the directory target (backup.dir,
// default <data_dir>/backups) or an S3 bucket:
//
//	"backup": {"target": "s3", "bucket": "clinic-backups", "prefix": "prod/",
//	           "endpoint": "https://s3.example.internal", "region": "us-east-1"}
//
// with credentials from the AWS SDK's default chain, like the AWS KMS KEK
// ("kek": "aws-kms:<key ARN>", optional "kms_endpoint" and "kms_region").
//
// The configuration holds no secret: audit_keys and ledger_keys are public
// keys, and the master key is read from kek_file (default
// <data_dir>/kek.key) or given at run time in MasterKey.
type ServiceConfig struct {
	Version int    `json:"version"`
	Service string `json:"service"` // the name the report carries

	DataDir        string `json:"data_dir,omitempty"`
	DatabaseURL    string `json:"database_url,omitempty"`
	DatabaseSchema string `json:"database_schema,omitempty"`
	LedgerSchema   string `json:"ledger_schema,omitempty"`

	// AuditKeys are the trusted checkpoint public keys of the audit trail
	// (base64 of the 32-byte ed25519 key; see EncodePublicKey), current key
	// first, then earlier ones. LedgerKeys are the disposal ledger's
	// (default: AuditKeys).
	AuditKeys  []string `json:"audit_keys"`
	LedgerKeys []string `json:"ledger_keys,omitempty"`

	// KEK is "local" (a local master key) or "aws-kms:" and a key ID or ARN.
	KEK string `json:"kek"`
	// KEKFile is the local master key file (default <data_dir>/kek.key).
	KEKFile string `json:"kek_file,omitempty"`
	// KMSEndpoint and KMSRegion override the AWS KMS endpoint (an http or
	// https URL, e.g. a VPC endpoint) and region; credentials come from the
	// AWS SDK's default chain.
	KMSEndpoint string `json:"kms_endpoint,omitempty"`
	KMSRegion   string `json:"kms_region,omitempty"`

	// Policy is the security policy of every tenant; Tenants lists tenants
	// whose policy differs. The report states the weakest value in force.
	Policy  TenantPolicyConfig   `json:"policy"`
	Tenants []TenantPolicyConfig `json:"tenants,omitempty"`
	// EmergencyRoles lists the break-glass roles.
	EmergencyRoles []string `json:"emergency_roles"`

	TLS TLSConfig `json:"tls"`

	// AuditRetention is how long the audit trail is kept, as an ISO 8601
	// period (default: the "audit" entry of Retention).
	AuditRetention string            `json:"audit_retention,omitempty"`
	Retention      []RetentionConfig `json:"retention"`
	Backup         BackupConfig      `json:"backup"`

	// MasterKey is the encoded local master key (localkek.Encode form),
	// for example from HIPAAKIT_MASTER_KEY; it is never read from or
	// written to the file and takes precedence over KEKFile.
	MasterKey string `json:"-"`
}

// TenantPolicyConfig is a tenant's security policy as the report sees it.
type TenantPolicyConfig struct {
	TenantID          string   `json:"tenant_id,omitempty"` // empty in ServiceConfig.Policy
	RequireMFA        bool     `json:"require_mfa"`
	IdleTimeout       Duration `json:"idle_timeout"`
	AbsoluteTimeout   Duration `json:"absolute_timeout"`
	LockoutThreshold  int      `json:"lockout_threshold"`
	PasswordMinLength int      `json:"password_min_length"`
	// PasswordBlocklist is "default" (auth's embedded list; also when
	// empty) or "none".
	PasswordBlocklist string `json:"password_blocklist,omitempty"`
}

// TLSConfig is the transport security in force.
type TLSConfig struct {
	Enabled    bool   `json:"enabled"`
	MinVersion string `json:"min_version,omitempty"` // "1.2" or "1.3"; required when enabled
	HSTS       bool   `json:"hsts"`
	// LoopbackOnly states that plain HTTP is bound to a loopback address.
	LoopbackOnly bool `json:"loopback_only,omitempty"`
}

// RetentionConfig is one record kind's retention period.
type RetentionConfig struct {
	Kind string `json:"kind"`
	Keep string `json:"keep"` // ISO 8601 period, e.g. "P6Y"
}

// BackupConfig names the backup target.
type BackupConfig struct {
	// Target is "directory" (Dir, default <data_dir>/backups), "s3"
	// (Bucket, Prefix, and optionally Endpoint for an S3-compatible store
	// and Region; credentials come from the AWS SDK's default chain) or
	// "none".
	Target   string `json:"target"`
	Dir      string `json:"dir,omitempty"`
	Bucket   string `json:"bucket,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
}

// Duration is a time.Duration written in Go's syntax ("15m") in JSON.
type Duration time.Duration

// MarshalJSON writes d as a string such as "15m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a string such as "15m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	v, err := time.Duration(0), json.Unmarshal(b, &s)
	if err == nil {
		v, err = time.ParseDuration(s)
	}
	if err != nil {
		// encoding/json adds the field's name to an UnmarshalTypeError.
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}

// EncodePublicKey returns the form ServiceConfig.AuditKeys and LedgerKeys
// hold: standard base64 of the 32-byte key.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// decodePublicKey reads an EncodePublicKey string (padding optional).
func decodePublicKey(s string) (ed25519.PublicKey, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, false
	}
	return ed25519.PublicKey(b), true
}

// LoadServiceConfig reads and validates the configuration file at path and
// resolves its relative paths against the file's directory.
func LoadServiceConfig(path string) (ServiceConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return ServiceConfig{}, fmt.Errorf("compliance: read service configuration: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return ServiceConfig{}, fmt.Errorf("compliance: read service configuration: %w", err)
	}
	c, err := ParseServiceConfig(b)
	if err != nil {
		return ServiceConfig{}, err
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return ServiceConfig{}, fmt.Errorf("compliance: resolve configuration directory: %w", err)
	}
	c.resolve(abs)
	return c, nil
}

// WriteServiceConfig validates cfg and writes it to path as indented JSON,
// atomically and durably, mode 0600 (a service calls it at start with
// filepath.Join(dataDir, ServiceConfigFileName)). cfg.MasterKey is never
// written.
func WriteServiceConfig(path string, cfg ServiceConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("compliance: encode service configuration: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("compliance: write service configuration: %w", err)
	}
	return nil
}

// ParseServiceConfig decodes and validates a configuration document. Paths
// stay as written (LoadServiceConfig resolves relative ones).
func ParseServiceConfig(data []byte) (ServiceConfig, error) {
	if len(data) > maxConfigFile {
		return ServiceConfig{}, cfgErr("(document)", "larger than %d bytes", maxConfigFile)
	}
	var probe struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return ServiceConfig{}, cfgErr("(document)", "not a JSON object")
	}
	var v int
	if len(probe.Version) == 0 || json.Unmarshal(probe.Version, &v) != nil {
		return ServiceConfig{}, cfgErr("version", "required, an integer")
	}
	if v != ServiceConfigVersion {
		return ServiceConfig{}, fmt.Errorf("%w: version %d (this code reads %d)", ErrUnsupportedVersion, v, ServiceConfigVersion)
	}
	var c ServiceConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return ServiceConfig{}, decodeErr(err)
	}
	if dec.More() {
		return ServiceConfig{}, cfgErr("(document)", "trailing data after the object")
	}
	return c, c.Validate()
}

// decodeErr turns a decoding error into a ConfigError without quoting
// values: encoding/json names unknown fields and mistyped fields, never
// their values.
func decodeErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Type == reflect.TypeFor[Duration]() {
			return cfgErr(te.Field, `must be a duration such as "90s", "15m" or "12h"`)
		}
		return cfgErr(te.Field, "wrong type (want %s)", te.Type)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return cfgErr(strings.Trim(name, `"`), "unknown field")
	}
	return cfgErr("(document)", "malformed JSON")
}

// resolve makes relative paths absolute against dir.
func (c *ServiceConfig) resolve(dir string) {
	for _, p := range []*string{&c.DataDir, &c.KEKFile, &c.Backup.Dir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// Validate checks every rule of the format. LoadServiceConfig calls it; a
// service that builds a ServiceConfig in Go calls it before writing the
// file.
func (c *ServiceConfig) Validate() error {
	if c.Version != ServiceConfigVersion {
		return fmt.Errorf("%w: version %d (this code reads %d)", ErrUnsupportedVersion, c.Version, ServiceConfigVersion)
	}
	if strings.TrimSpace(c.Service) == "" || len(c.Service) > 200 || !printable(c.Service) {
		return cfgErr("service", "required, at most 200 printable characters")
	}
	if err := c.validateStores(); err != nil {
		return err
	}
	if err := c.validateKeys(); err != nil {
		return err
	}
	if err := c.Policy.validate("policy", false); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, t := range c.Tenants {
		field := fmt.Sprintf("tenants[%d]", i)
		if err := t.validate(field, true); err != nil {
			return err
		}
		if seen[t.TenantID] {
			return cfgErr(field+".tenant_id", "listed twice")
		}
		seen[t.TenantID] = true
	}
	for i, r := range c.EmergencyRoles {
		if !auth.ValidRole(r) {
			return cfgErr(fmt.Sprintf("emergency_roles[%d]", i), "must be 1-128 bytes of printable ASCII without spaces")
		}
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if _, err := c.retentionPolicies(); err != nil {
		return err
	}
	if _, err := c.auditRetention(); err != nil {
		return err
	}
	return c.Backup.validate(c.DataDir != "")
}

func (b *BackupConfig) validate(haveDataDir bool) error {
	if b.Target != "s3" && (b.Bucket != "" || b.Prefix != "" || b.Endpoint != "" || b.Region != "") {
		return cfgErr("backup.bucket", "bucket, prefix, endpoint and region are for the s3 target")
	}
	switch b.Target {
	case "directory":
		if b.Dir == "" && !haveDataDir {
			return cfgErr("backup.dir", "required without data_dir")
		}
	case "s3":
		switch {
		case b.Dir != "":
			return cfgErr("backup.dir", "set although the target is s3")
		case !validBucket(b.Bucket):
			return cfgErr("backup.bucket", "required, 3-63 characters of [a-z0-9.-]")
		case b.Prefix != "" && (!strings.HasSuffix(b.Prefix, "/") || len(b.Prefix) > 512 || !printable(b.Prefix)):
			return cfgErr("backup.prefix", "must be empty or end in '/'")
		case !validURL(b.Endpoint):
			return cfgErr("backup.endpoint", "must be an absolute http or https URL")
		case !validRegion(b.Region):
			return cfgErr("backup.region", "must be an AWS region name")
		}
	case "none":
		if b.Dir != "" {
			return cfgErr("backup.dir", "set although target is none")
		}
	default:
		return cfgErr("backup.target", `must be "directory", "s3" or "none"`)
	}
	return nil
}

// validURL accepts "" or an absolute http(s) URL.
func validURL(s string) bool {
	if s == "" {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// validRegion accepts "" or a plausible AWS region name.
func validRegion(s string) bool {
	return len(s) <= 64 && printable(s) && !strings.ContainsRune(s, ' ')
}

func validBucket(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func (c *ServiceConfig) validateStores() error {
	if c.DataDir == "" && c.DatabaseURL == "" {
		return cfgErr("data_dir", "data_dir or database_url is required")
	}
	if c.DatabaseURL != "" {
		if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
			return cfgErr("database_url", "must be a postgres:// URL")
		}
	} else if c.DatabaseSchema != "" || c.LedgerSchema != "" {
		return cfgErr("database_schema", "set without database_url")
	}
	for _, s := range []struct{ v, n string }{{c.DatabaseSchema, "database_schema"}, {c.LedgerSchema, "ledger_schema"}} {
		if s.v != "" && !validSchema(s.v) {
			return cfgErr(s.n, "must be 1-63 characters of [a-z0-9_], starting with a letter or _")
		}
	}
	return nil
}

func (c *ServiceConfig) validateKeys() error {
	if len(c.AuditKeys) == 0 {
		return cfgErr("audit_keys", "at least one checkpoint public key is required")
	}
	for _, ks := range []struct {
		keys []string
		name string
	}{{c.AuditKeys, "audit_keys"}, {c.LedgerKeys, "ledger_keys"}} {
		for i, k := range ks.keys {
			if _, ok := decodePublicKey(k); !ok {
				return cfgErr(fmt.Sprintf("%s[%d]", ks.name, i), "not a base64 ed25519 public key (32 bytes)")
			}
		}
	}
	switch {
	case c.KEK == "local":
		if c.KMSEndpoint != "" || c.KMSRegion != "" {
			return cfgErr("kms_endpoint", "set although the KEK is local")
		}
	case strings.HasPrefix(c.KEK, "aws-kms:") && len(c.KEK) > len("aws-kms:") && len(c.KEK) <= 2048 && printable(c.KEK):
		if c.KEKFile != "" {
			return cfgErr("kek_file", "set although the KEK is in AWS KMS")
		}
		if !validURL(c.KMSEndpoint) {
			return cfgErr("kms_endpoint", "must be an absolute http or https URL")
		}
		if !validRegion(c.KMSRegion) {
			return cfgErr("kms_region", "must be an AWS region name")
		}
	default:
		return cfgErr("kek", `must be "local" or "aws-kms:<key id or ARN>"`)
	}
	return nil
}

func (p *TenantPolicyConfig) validate(field string, tenant bool) error {
	switch {
	case tenant && !auth.ValidTenantID(p.TenantID):
		return cfgErr(field+".tenant_id", "required, printable ASCII without spaces")
	case !tenant && p.TenantID != "":
		return cfgErr(field+".tenant_id", "the default policy names no tenant")
	case p.IdleTimeout < Duration(time.Minute) || p.IdleTimeout > Duration(24*time.Hour):
		return cfgErr(field+".idle_timeout", "required, between 1m and 24h")
	case p.AbsoluteTimeout < p.IdleTimeout || p.AbsoluteTimeout > Duration(30*24*time.Hour):
		return cfgErr(field+".absolute_timeout", "required, between idle_timeout and 720h")
	case p.LockoutThreshold < 1 || p.LockoutThreshold > 1000:
		return cfgErr(field+".lockout_threshold", "required, between 1 and 1000")
	case p.PasswordMinLength < 1 || p.PasswordMinLength > 1024:
		return cfgErr(field+".password_min_length", "required, between 1 and 1024")
	case p.PasswordBlocklist != "" && p.PasswordBlocklist != "default" && p.PasswordBlocklist != "none":
		return cfgErr(field+".password_blocklist", `must be "default" or "none"`)
	}
	return nil
}

func (t *TLSConfig) validate() error {
	switch {
	case t.Enabled && t.MinVersion != "1.2" && t.MinVersion != "1.3":
		return cfgErr("tls.min_version", `must be "1.2" or "1.3" when TLS is enabled`)
	case !t.Enabled && t.MinVersion != "":
		return cfgErr("tls.min_version", "set although TLS is disabled")
	case !t.Enabled && t.HSTS:
		return cfgErr("tls.hsts", "HSTS needs TLS")
	}
	return nil
}

// retentionPolicies validates Retention as a retention.Policies set.
func (c *ServiceConfig) retentionPolicies() ([]retention.Policy, error) {
	ps := make([]retention.Policy, 0, len(c.Retention))
	for i, r := range c.Retention {
		keep, err := retention.ParsePeriod(r.Keep)
		if err != nil {
			return nil, cfgErr(fmt.Sprintf("retention[%d].keep", i), "must be an ISO 8601 period such as P6Y or P18M")
		}
		ps = append(ps, retention.Policy{Kind: r.Kind, Keep: keep})
	}
	if _, err := retention.NewPolicies(ps...); err != nil {
		return nil, cfgErr("retention", "%s", strings.TrimPrefix(err.Error(), "retention: "))
	}
	return ps, nil
}

// auditRetention returns the audit trail's retention: AuditRetention, else
// the "audit" retention policy, else zero. It counts nominal 365-day years
// and 30-day months, so that "P6Y" reads as exactly six years.
func (c *ServiceConfig) auditRetention() (time.Duration, error) {
	period := c.AuditRetention
	if period == "" {
		for _, r := range c.Retention {
			if r.Kind == retention.KindAudit {
				period = r.Keep
			}
		}
	}
	if period == "" {
		return 0, nil
	}
	p, err := retention.ParsePeriod(period)
	if err != nil {
		return 0, cfgErr("audit_retention", "must be an ISO 8601 period such as P6Y")
	}
	days := p.Years*365 + p.Months*30 + p.Days // at most 6 digits each: no overflow
	if days > maxRetentionDays {
		return 0, cfgErr("audit_retention", "at most 200 years")
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

// publicKeys decodes keys (validated).
func publicKeys(keys []string) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, 0, len(keys))
	for _, k := range keys {
		if pk, ok := decodePublicKey(k); ok {
			out = append(out, pk)
		}
	}
	return out
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}

func validSchema(s string) bool {
	if s == "" || len(s) > 63 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
