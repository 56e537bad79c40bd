package serviceconfig

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
)

// Version is the version of the service configuration format
// this code reads and writes.
const Version = 1

// FileName is the name a service gives its configuration file
// inside its data directory, where "hipaakit report" expects to find it.
const FileName = "hipaakit.json"

// maxRetentionDays bounds the audit retention (200 years), far from
// time.Duration's limit.
const maxRetentionDays = 200 * 365

// maxConfigFile bounds the size of a configuration file.
const maxConfigFile = 1 << 20

// Configuration errors. Every error Load and
// Parse return matches one of them with errors.Is; a
// *FieldError names the field. Messages never quote values, which may hold
// a database password.
var (
	// ErrInvalid reports a configuration that does not parse or breaks
	// a rule.
	ErrInvalid = errors.New("serviceconfig: invalid service configuration")
	// ErrUnsupportedVersion reports a configuration of another format
	// version.
	ErrUnsupportedVersion = errors.New("serviceconfig: unsupported service configuration version")
)

// FieldError details an ErrInvalid: which field and which rule.
type FieldError struct {
	Field  string // JSON path, e.g. "policy.idle_timeout"
	Reason string
}

func (e *FieldError) Error() string {
	return "serviceconfig: invalid service configuration: " + e.Field + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func cfgErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// Config says where a deployment's stores are and which policy is in
// force; "hipaakit report" reads it (report.Collect) to build the control-mapping
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
// that writes the file into its data directory (as FileName)
// sets "data_dir": ".".
//
// Stores: with data_dir, the embedded file stores under it are read, in
// the layout of hipaakit.Open (the module's root package): keys/
// (phi/filestore), audit/ (audit file log), ledger/ (disposal file ledger),
// users/ (auth file user store) and holds/ (retention file hold store).
// With database_url, the PostgreSQL stores are read instead (phi/pgstore,
// audit/pgaudit, disposal/pgledger streams, auth/pgauth users,
// retention/pgretention holds), in database_schema (default: the URL's
// search_path) and, for the disposal ledger, ledger_schema (default: that
// schema's name plus "_ledger", where hipaakit.Open keeps it); data_dir
// then locates the deployment's signing key and the defaults of kek_file
// and backup.dir. The report opens these stores read-only through
// hipaakit.Inspect. database_url must not hold a password
// (PublicDatabaseURL removes it): pgx reads PGPASSWORD and ~/.pgpass.
// Backups are read from the directory target (backup.dir, default the
// legacy <data_dir>/backups when it exists, else <data_dir>.backups beside
// the data directory) or an S3 bucket:
//
//	"backup": {"target": "s3", "bucket": "clinic-backups", "prefix": "prod/",
//	           "endpoint": "https://s3.example.internal", "region": "us-east-1"}
//
// with credentials from the AWS SDK's default chain, like the AWS KMS KEK
// ("kek": "aws-kms:<key ARN>", optional "kms_endpoint" and "kms_region").
//
// The configuration holds no secret: audit_keys and ledger_keys are public
// keys, and the master key is read from kek_file (default: the legacy
// <data_dir>/kek.key when it exists, else <data_dir>.master-key beside the
// data directory) or given at run time in MasterKey.
type Config struct {
	Version int    `json:"version"`
	Service string `json:"service"` // the name the report carries

	DataDir        string `json:"data_dir,omitempty"`
	DatabaseURL    string `json:"database_url,omitempty"`
	DatabaseSchema string `json:"database_schema,omitempty"`
	LedgerSchema   string `json:"ledger_schema,omitempty"`

	// AuditKeys are the trusted checkpoint public keys of the audit trail
	// (each a PEM "PUBLIC KEY" block as signing.EncodePublicKey writes it;
	// the base64 of the 32-byte key that earlier files hold is still read),
	// current key first, then earlier ones. LedgerKeys are the disposal ledger's
	// (default: AuditKeys).
	AuditKeys  []string `json:"audit_keys"`
	LedgerKeys []string `json:"ledger_keys,omitempty"`

	// KEK is "local" (a local master key) or "aws-kms:" and a key ID or ARN.
	KEK string `json:"kek"`
	// KEKFile is the local master key file (default: the legacy
	// <data_dir>/kek.key when it exists, else <data_dir>.master-key).
	KEKFile string `json:"kek_file,omitempty"`
	// KMSEndpoint and KMSRegion override the AWS KMS endpoint (an http or
	// https URL, e.g. a VPC endpoint) and region; credentials come from the
	// AWS SDK's default chain.
	KMSEndpoint string `json:"kms_endpoint,omitempty"`
	KMSRegion   string `json:"kms_region,omitempty"`

	// Policy is the security policy of every tenant; Tenants lists tenants
	// whose policy differs. The report states the weakest value in force.
	Policy  Policy   `json:"policy"`
	Tenants []Policy `json:"tenants,omitempty"`
	// EmergencyRoles lists the break-glass roles.
	EmergencyRoles []string `json:"emergency_roles"`

	TLS TLS `json:"tls"`

	// AuditRetention is how long the audit trail is kept, as an ISO 8601
	// period (default: the "audit" entry of Retention).
	AuditRetention string          `json:"audit_retention,omitempty"`
	Retention      []RetentionRule `json:"retention"`
	Backup         Backup          `json:"backup"`

	// MasterKey is the encoded local master key (localkek.Encode form),
	// for example from HIPAAKIT_MASTER_KEY; it is never read from or
	// written to the file and takes precedence over KEKFile.
	MasterKey string `json:"-"`
}

// Policy is a tenant's security policy as the report sees it.
type Policy struct {
	TenantID          string   `json:"tenant_id,omitempty"` // empty in Config.Policy
	RequireMFA        bool     `json:"require_mfa"`
	IdleTimeout       Duration `json:"idle_timeout"`
	AbsoluteTimeout   Duration `json:"absolute_timeout"`
	LockoutThreshold  int      `json:"lockout_threshold"`
	PasswordMinLength int      `json:"password_min_length"`
	// PasswordBlocklist is "default" (auth's embedded list; also when
	// empty) or "none".
	PasswordBlocklist string `json:"password_blocklist,omitempty"`
}

// TLS is the transport security in force.
type TLS struct {
	Enabled    bool   `json:"enabled"`
	MinVersion string `json:"min_version,omitempty"` // "1.2" or "1.3"; required when enabled
	HSTS       bool   `json:"hsts"`
	// LoopbackOnly states that plain HTTP is bound to a loopback address.
	LoopbackOnly bool `json:"loopback_only,omitempty"`
}

// RetentionRule is one record kind's retention period.
type RetentionRule struct {
	Kind string `json:"kind"`
	Keep string `json:"keep"` // ISO 8601 period, e.g. "P6Y"
}

// Backup names the backup target.
type Backup struct {
	// Target is "directory" (Dir, default: the legacy <data_dir>/backups
	// when it exists, else <data_dir>.backups), "s3"
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

// decodePublicKey reads an audit_keys or ledger_keys entry: a PEM "PUBLIC
// KEY" block (signing.EncodePublicKey, what new configurations hold), or,
// for configuration files written before package signing, standard base64
// of the 32-byte key (padding optional), which is read but never written.
func decodePublicKey(s string) (ed25519.PublicKey, bool) {
	if pub, err := signing.ParsePublicKey([]byte(s)); err == nil {
		return pub, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, false
	}
	return ed25519.PublicKey(b), true
}

// Load reads and validates the configuration file at path and
// resolves its relative paths against the file's directory.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("serviceconfig: read service configuration: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return Config{}, fmt.Errorf("serviceconfig: read service configuration: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, err
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("serviceconfig: resolve configuration directory: %w", err)
	}
	c.resolve(abs)
	return c, nil
}

// Write validates cfg and writes it to path as indented JSON,
// atomically and durably, mode 0600 (a service calls it at start with
// filepath.Join(dataDir, FileName)). cfg.MasterKey is never
// written.
func Write(path string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("serviceconfig: encode service configuration: %w", err)
	}
	if err := durable.WriteFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("serviceconfig: write service configuration: %w", err)
	}
	return nil
}

// Parse decodes and validates a configuration document. Paths
// stay as written (Load resolves relative ones).
func Parse(data []byte) (Config, error) {
	if len(data) > maxConfigFile {
		return Config{}, cfgErr("(document)", "larger than %d bytes", maxConfigFile)
	}
	var probe struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Config{}, cfgErr("(document)", "not a JSON object")
	}
	var v int
	if len(probe.Version) == 0 || json.Unmarshal(probe.Version, &v) != nil {
		return Config{}, cfgErr("version", "required, an integer")
	}
	if v != Version {
		return Config{}, fmt.Errorf("%w: version %d (this code reads %d)", ErrUnsupportedVersion, v, Version)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, decodeErr(err)
	}
	if dec.More() {
		return Config{}, cfgErr("(document)", "trailing data after the object")
	}
	return c, c.Validate()
}

// decodeErr turns a decoding error into a FieldError without quoting
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
func (c *Config) resolve(dir string) {
	for _, p := range []*string{&c.DataDir, &c.KEKFile, &c.Backup.Dir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
