package serviceconfig

import (
	"crypto/ed25519"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/signing"
)

// Validate checks every rule of the format. Load calls it; a
// service that builds a Config in Go calls it before writing the
// file.
func (c *Config) Validate() error {
	if c.Version != Version {
		return fmt.Errorf("%w: version %d (this code reads %d)", ErrUnsupportedVersion, c.Version, Version)
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
		if !policy.ValidRole(r) {
			return cfgErr(fmt.Sprintf("emergency_roles[%d]", i), "must be 1-128 bytes of printable ASCII without spaces")
		}
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if _, err := c.RetentionPolicies(); err != nil {
		return err
	}
	if _, err := c.AuditRetentionSpan(); err != nil {
		return err
	}
	return c.Backup.validate(c.DataDir != "")
}

func (b *Backup) validate(haveDataDir bool) error {
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

func (c *Config) validateStores() error {
	if c.DataDir == "" && c.DatabaseURL == "" {
		return cfgErr("data_dir", "data_dir or database_url is required")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return cfgErr("database_url", "must be a postgres:// URL")
		}
		if _, ok := u.User.Password(); ok || u.Query().Has("password") {
			return cfgErr("database_url", "must not carry a password (PublicDatabaseURL removes it); pgx reads PGPASSWORD and ~/.pgpass")
		}
		for k := range u.Query() {
			if secretParam(k) {
				return cfgErr("database_url", "must not carry a password or key parameter (PublicDatabaseURL removes them)")
			}
		}
		if strings.ContainsRune(c.DatabaseURL, '#') {
			return cfgErr("database_url", "must not contain '#' (percent-encode it as %%23)")
		}
	} else if c.DatabaseSchema != "" || c.LedgerSchema != "" {
		return cfgErr("database_schema", "set without database_url")
	}
	for _, s := range []struct{ v, n string }{{c.DatabaseSchema, "database_schema"}, {c.LedgerSchema, "ledger_schema"}} {
		if s.v != "" && !validSchema(s.v) {
			return cfgErr(s.n, "must be a schema name of 1-63 printable bytes")
		}
	}
	return nil
}

// PublicDatabaseURL returns dsn without its secrets, the form
// Config.DatabaseURL takes: the URL is rebuilt from its scheme,
// user name, hosts and ports, database and the parameters that are not
// secret (it drops the password in the user information and every
// parameter whose name contains "password" or "key", such as password,
// sslpassword and sslkey). dsn is read the way pgx reads it
// (pgconn.ParseConfig); a dsn with a fragment ('#'), or that net/url and
// pgx read as different servers, users or databases, is refused rather
// than half cleaned. Errors never quote dsn.
func PublicDatabaseURL(dsn string) (string, error) {
	notPG := cfgErr("database_url", "must be a postgres:// URL")
	if strings.ContainsRune(dsn, '#') {
		return "", cfgErr("database_url", "must not contain '#' (percent-encode it as %%23)")
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		return "", notPG
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", cfgErr("database_url", "not a connection string pgx accepts")
	}
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if u.User != nil && u.User.Username() != "" {
		out.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if secretParam(k) {
			q.Del(k)
		}
	}
	out.RawQuery = q.Encode()
	// The public URL must name what pgx reads from dsn. TLS settings do
	// not change the server, user or database; leave them out of the
	// comparison (their files need not exist here, and sslkey is gone).
	check := out
	cq := check.Query()
	for k := range cq {
		if strings.HasPrefix(strings.ToLower(k), "ssl") {
			cq.Del(k)
		}
	}
	cq.Set("sslmode", "disable")
	check.RawQuery = cq.Encode()
	pub, err := pgconn.ParseConfig(check.String())
	if err != nil || !sameServer(cfg, pub) {
		return "", cfgErr("database_url", "pgx reads a different server, user or database than the URL shows; percent-encode reserved characters")
	}
	return out.String(), nil
}

// secretParam reports whether a connection parameter may hold a secret.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "key")
}

// sameServer reports whether a and b connect to the same hosts and ports,
// in the same order, as the same user to the same database.
func sameServer(a, b *pgconn.Config) bool {
	if a.User != b.User || a.Database != b.Database {
		return false
	}
	ha, hb := serverList(a), serverList(b)
	if len(ha) != len(hb) {
		return false
	}
	for i := range ha {
		if ha[i] != hb[i] {
			return false
		}
	}
	return true
}

// serverList returns the distinct host:port pairs of c, in order.
func serverList(c *pgconn.Config) []string {
	out := []string{net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))}
	for _, f := range c.Fallbacks {
		hp := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port)))
		if !slices.Contains(out, hp) {
			out = append(out, hp)
		}
	}
	return out
}

func (c *Config) validateKeys() error {
	if len(c.AuditKeys) == 0 {
		return cfgErr("audit_keys", "at least one checkpoint public key is required")
	}
	for _, ks := range []struct {
		keys []string
		name string
	}{{c.AuditKeys, "audit_keys"}, {c.LedgerKeys, "ledger_keys"}} {
		for i, k := range ks.keys {
			if _, ok := decodePublicKey(k); !ok {
				return cfgErr(fmt.Sprintf("%s[%d]", ks.name, i), "not an ed25519 public key (PEM PUBLIC KEY, or base64 of the 32-byte key)")
			}
		}
	}
	if _, err := c.TrustedKeys(); err != nil {
		return cfgErr("audit_keys", "two different keys of audit_keys and ledger_keys share a key ID")
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

func (p *Policy) validate(field string, tenant bool) error {
	switch {
	case tenant && !policy.ValidTenantID(p.TenantID):
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

func (t *TLS) validate() error {
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

// RetentionPolicies returns Retention as retention policies, validated as
// a retention.Policies set.
func (c *Config) RetentionPolicies() ([]retention.Policy, error) {
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

// AuditRetentionSpan returns the audit trail's retention: AuditRetention, else
// the "audit" retention policy, else zero. It counts calendar years and
// months (retention.Period.AddTo) at their longest over a leap cycle, so
// that "P6Y" covers six calendar years (audit.RetentionCoversSixYears)
// whenever it is applied.
func (c *Config) AuditRetentionSpan() (time.Duration, error) {
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
	return calendarSpan(p), nil
}

// calendarSpan returns the longest time p spans from any day of a whole
// leap cycle (four years).
func calendarSpan(p retention.Period) time.Duration {
	var longest time.Duration
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 4*366; d++ {
		t := start.AddDate(0, 0, d)
		if span := p.AddTo(t).Sub(t); span > longest {
			longest = span
		}
	}
	return longest
}

// AuditPublicKeys is the set of AuditKeys, current key first. A key that
// does not decode is left out, and keys that Validate refuses (two keys with
// one KeyID) give the empty set, which trusts nothing.
func (c *Config) AuditPublicKeys() signing.KeySet { return publicKeys(c.AuditKeys) }

// LedgerPublicKeys is the set of LedgerKeys, or of AuditKeys when LedgerKeys
// is empty (the ledger's default), as AuditPublicKeys.
func (c *Config) LedgerPublicKeys() signing.KeySet {
	if len(c.LedgerKeys) > 0 {
		return publicKeys(c.LedgerKeys)
	}
	return publicKeys(c.AuditKeys)
}

// TrustedKeys is the set of every checkpoint key the deployment trusts:
// AuditPublicKeys, then LedgerPublicKeys. It fails with
// signing.ErrDuplicateKeyID when two different keys share a KeyID.
func (c *Config) TrustedKeys() (signing.KeySet, error) {
	return signing.NewKeySet(append(decodeKeys(c.AuditKeys), decodeKeys(c.LedgerKeys)...)...)
}

// publicKeys is the set of keys (validated).
func publicKeys(keys []string) signing.KeySet {
	s, err := signing.NewKeySet(decodeKeys(keys)...)
	if err != nil {
		return signing.KeySet{}
	}
	return s
}

// decodeKeys decodes keys, leaving out those that do not decode.
func decodeKeys(keys []string) []ed25519.PublicKey {
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

// validSchema accepts a PostgreSQL schema name (it is quoted when used).
func validSchema(s string) bool {
	return s != "" && len(s) <= 63 && printable(s)
}
