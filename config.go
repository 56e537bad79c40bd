package hipaakit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/auth/totp"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/internal/redact"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/signing"
)

// Environment variables every hipaakit program reads (through ConfigFromEnv;
// only a main package calls os.Getenv).
const (
	// EnvDataDir names the data directory (Config.DataDir).
	EnvDataDir = "HIPAAKIT_DATA_DIR"
	// EnvMasterKey holds the local master key itself, in the
	// localkek.Encode form ("hipaakit-local-kek-v1:..."). It takes
	// precedence over EnvMasterKeyFile and the default key file.
	EnvMasterKey = "HIPAAKIT_MASTER_KEY"
	// EnvMasterKeyFile names the local master key file (KEKConfig.KeyFile).
	EnvMasterKeyFile = "HIPAAKIT_MASTER_KEY_FILE"
	// EnvKMSKeyID switches the key-encryption key to AWS KMS: the key ID or
	// ARN (KEKConfig.KMSKeyID); EnvKMSEndpoint overrides its endpoint.
	EnvKMSKeyID    = "HIPAAKIT_KMS_KEY_ID"
	EnvKMSEndpoint = "HIPAAKIT_KMS_ENDPOINT"
	// EnvDatabaseURL switches every store to PostgreSQL (Config.DatabaseURL).
	EnvDatabaseURL = "DATABASE_URL"
	// EnvS3Bucket sends backups to S3 (BackupConfig.S3Bucket);
	// EnvS3Endpoint and EnvS3Region locate the service.
	EnvS3Bucket = "HIPAAKIT_S3_BUCKET"
	// EnvBackupDir sends backups to a directory (BackupConfig.Dir); the
	// replicas of one deployment share one, or use S3.
	EnvBackupDir = "HIPAAKIT_BACKUP_DIR"
	// EnvInstanceID names this process among the replicas
	// (Config.InstanceID).
	EnvInstanceID = "HIPAAKIT_INSTANCE_ID"
	// EnvSigningKeyFile names the signing key file (SigningConfig.KeyFile);
	// replicas sharing one signing key point it at one copy of the key.
	EnvSigningKeyFile = "HIPAAKIT_SIGNING_KEY_FILE"
	EnvS3Endpoint     = "HIPAAKIT_S3_ENDPOINT"
	EnvS3Region       = "AWS_REGION"
)

// Config is one deployment. Every zero field means the secure default its
// comment gives; DataDir is the only required field.
type Config struct {
	// DataDir is the data directory (required). On the embedded default
	// it holds every store (see Layout); with DatabaseURL it holds the
	// signing key, the lock, the drills' scratch space and the service
	// configuration. It is created (mode 0700) on first use, and one
	// process at a time may use it.
	DataDir string
	// DatabaseURL, when set, puts every store in PostgreSQL (a postgres://
	// URL or keyword/value string). The connections' search_path names the
	// schema, which must exist; the disposal ledger gets its own schema
	// beside it (schema + LedgerSchemaSuffix), created on first start. Open
	// runs every store's migrations. Empty: the embedded file stores.
	DatabaseURL string
	// KEK selects the key-encryption key (default: a local master key in
	// a file beside the data directory; see KEKConfig).
	KEK KEKConfig
	// Backup selects where backups go (default: the directory
	// DataDir+".backups"; see BackupConfig).
	Backup BackupConfig
	// Signing selects the signing key of audit checkpoints, ledger
	// checkpoints and disposal certificates, and the earlier keys still
	// trusted (default: DataDir/signing-key.pem, created on first start).
	Signing SigningConfig
	// Witnesses are the witnesses every new audit checkpoint is sent to,
	// their cosignatures kept beside the trail (default: none; see
	// WitnessConfig).
	Witnesses WitnessConfig
	// AuditArchive archives the audit trail's sealed segments (PostgreSQL:
	// its months) older than an age in the housekeeping pass, to the
	// backup target or a target of its own (default: none; see
	// AuditArchiveConfig).
	AuditArchive AuditArchiveConfig
	// Auth configures logins, sessions and roles (secure defaults: MFA
	// required for every tenant; see AuthConfig).
	Auth AuthConfig
	// BlindIndexes registers the Vault's blind-indexed fields (field name
	// to normaliser, see phi.VaultConfig.BlindIndexes). Every process of a
	// deployment must register the same ones.
	BlindIndexes map[string]phi.Normalizer
	// AppDirs are directories of the application under DataDir (embedded
	// stores) that every backup covers, each as a "dir" backup named after
	// the directory, before the key store and the audit trail.
	AppDirs []string
	// AppTables are tables of the application in the PostgreSQL schema that
	// every backup covers (one "postgres" backup of them all, before the
	// key store). The audit trail and the disposal ledger are append-only
	// tables left to the database's own backups.
	AppTables []string
	// LedgerSchema names the PostgreSQL schema of the disposal ledger
	// (default: the main schema's name plus LedgerSchemaSuffix, created on
	// first start).
	LedgerSchema string
	// AuditStream begins this process's audit stream name in PostgreSQL
	// (default "hipaakit"); the stream is AuditStream, "-", InstanceID,
	// and the disposal-ledger stream "disposal-" InstanceID
	// (Deployment.AuditStream, Deployment.LedgerStream).
	AuditStream string
	// InstanceID identifies this process among the replicas of one
	// deployment: it names its streams, is attached to every log line
	// ("instance") and to its stream leases. 1 to 48 letters, digits, '-',
	// '_' or '.'. Default: the host name, "-" and a random suffix kept in
	// DataDir/FileInstanceID (drawn on the first successful start), so a
	// process keeps its ID across restarts. Replicas need distinct IDs:
	// two processes with one ID refuse each other (ErrStreamHeld).
	InstanceID string
	// LeaseTTL is how long a stream lease lasts without renewal (default
	// DefaultLeaseTTL, 30 s; renewed every LeaseTTL/3). After a crash the
	// successor waits at most this long; Ready fails once a renewal is
	// that late.
	LeaseTTL time.Duration
	// SweepInterval is how often the housekeeping deletes expired sessions
	// (recording their session_timeout events) and purges forgotten
	// login-attempt counts (default one minute). Open starts it; Close
	// stops it before the stores close.
	SweepInterval time.Duration
	// PlainHTTP declares that the service is served over plain HTTP (only
	// sensible on a loopback address): the session cookie is then sent
	// without Secure under Auth.CookieName, and SecurityHeaders sets no
	// HSTS. Default false: HTTPS only.
	PlainHTTP bool
	// Service describes the service for the compliance report; with
	// Service.Name set, Open writes this process's service description
	// (see Description). Default: none is written.
	Service Description
	// Clock is the one time source of every component (default
	// clock.System).
	Clock clock.Clock
	// Logger receives operational messages, never keys, passwords or PHI
	// (default slog.Default()).
	Logger *slog.Logger
}

// KEKConfig selects the key-encryption key that wraps every patient key.
// At most one of Key and KMSKeyID is set; with neither, the local master
// key file is used (created on first start).
type KEKConfig struct {
	// KeyFile is the local master key file, created (mode 0600) on first
	// start when missing. Default: the legacy DataDir/kek.key when it
	// exists, else DataDir+".master-key" beside the data directory. A file
	// inside the data directory still opens, with a logged warning, and
	// Deployment.KeyInsideDataDir reports it.
	KeyFile string
	// Key is the local master key itself, in the localkek.Encode form (as
	// EnvMasterKey carries it). It takes precedence over KeyFile.
	Key string
	// KMSKeyID, when set, wraps keys with AWS KMS instead (a key ID or
	// ARN; credentials from the AWS SDK's default chain). KMSEndpoint and
	// KMSRegion override the endpoint and region.
	KMSKeyID    string
	KMSEndpoint string
	KMSRegion   string
}

// BackupConfig selects the backup target. With S3Bucket set, backups go to
// that bucket; otherwise to the directory Dir.
type BackupConfig struct {
	// Dir is the backup directory (default DataDir+".backups", beside the
	// data directory). A directory inside DataDir is refused: a backup must
	// not share the fate of what it backs up.
	Dir string
	// S3Bucket sends backups to S3 (credentials from the AWS SDK's default
	// chain). S3Prefix begins every object name (default: none);
	// S3Endpoint overrides the endpoint (S3-compatible stores) and
	// S3Region the region (default us-east-1).
	S3Bucket   string
	S3Prefix   string
	S3Endpoint string
	S3Region   string
}

// SigningConfig selects the deployment's ed25519 signing key.
type SigningConfig struct {
	// KeyFile is the private key (PEM, PKCS #8; its public key is written
	// beside it), created (mode 0600) on first start. Default
	// DataDir/FileSigningKey.
	KeyFile string
	// Trusted are the other public keys still trusted when verifying the
	// audit trail's and the ledger's checkpoints and the disposal
	// certificates: earlier keys after a rotation, other replicas' keys
	// (Deployment.TrustedKeys is the current key first, then these). Read
	// a trusted-keys file with signing.ReadKeySet.
	Trusted signing.KeySet
}

// AuthConfig configures authentication, sessions and authorisation.
type AuthConfig struct {
	// Tenants gives each tenant's security policy, once for the whole
	// deployment (the authenticator and the session manager read the same
	// source). Default: DefaultTenantPolicy for every tenant (MFA required).
	Tenants policy.Source
	// RBAC is the role model the auth service enforces. Default: no roles, so
	// every protected route is refused (deny by default).
	RBAC *policy.RBAC
	// AdminRoles and PHIRoles: see auth.Config.
	AdminRoles []string
	PHIRoles   []string
	// Passwords is the password policy (default password.DefaultPolicy).
	Passwords password.Policy
	// Argon2 are the password-hashing parameters of new hashes (zero:
	// password.DefaultArgon2Params(); see auth.Config.Argon2). Tests may
	// lower them to the minimum password.NewHasher accepts.
	Argon2 password.Argon2Params
	// Lockout configures throttling and lockout (defaults in
	// auth.LockoutConfig); the housekeeping purges attempt counts idle for
	// Lockout.ForgetAfter.
	Lockout auth.LockoutConfig
	// TOTP configures the TOTP second factor (defaults in totp.Config).
	// TOTP secrets are sealed by the deployment's Vault.
	TOTP totp.Config
	// WithoutTOTP turns TOTP enrolment off (no secret is sealed). It is
	// refused while a tenant policy requires MFA. Default false.
	WithoutTOTP bool
	// Passkeys configures WebAuthn passkeys (passkey.Config; zero:
	// disabled). Set RPID and Origins to the service's public domain and
	// origins.
	Passkeys passkey.Config
	// IdleTimeout and AbsoluteTimeout bound every session (defaults 15
	// minutes and 12 hours); a tenant policy can only shorten them.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// CookieName names the session cookie (default auth.DefaultCookieName;
	// with PlainHTTP, "hipaakit_session").
	CookieName string
	// OnEmergency, when set, is called when break-glass access starts and
	// ends (see auth.Config.OnEmergency).
	OnEmergency func(ctx context.Context, a auth.EmergencyAlert)
	// ChallengeKey, when set, is the HMAC-SHA256 key (at least
	// MinChallengeKeySize bytes) that signs the login challenges
	// (auth.Config.ChallengeKey); every replica must be given the same.
	// Default: the deployment's own key, drawn by the first start and kept
	// wrapped by the KEK in the database or the data directory, which
	// every replica shares.
	ChallengeKey []byte
}

// Format redacts AuthConfig under every fmt verb: it may hold the
// challenge key (and the policy callbacks are of no use in a log).
func (AuthConfig) Format(f fmt.State, _ rune) { redact.Format(f, "hipaakit.AuthConfig") }

// LogValue redacts AuthConfig in slog output.
func (AuthConfig) LogValue() slog.Value { return redact.Log("hipaakit.AuthConfig") }

// MarshalJSON redacts AuthConfig in JSON.
func (AuthConfig) MarshalJSON() ([]byte, error) { return redact.JSON("hipaakit.AuthConfig") }

// DefaultTenantPolicy is the policy of every tenant when AuthConfig.Tenants
// is nil: MFA required, recovery by recovery codes or an administrator's
// reset.
func DefaultTenantPolicy() policy.Tenant {
	return policy.Tenant{RequireMFA: true,
		RecoveryMethods: []policy.RecoveryMethod{policy.RecoveryCodes, policy.RecoveryAdminReset}}
}

// retiredEnv are the master-key names of earlier versions and the names
// that replaced them. They are refused rather than read as a fallback,
// which could open a deployment with a key the operator did not mean.
var retiredEnv = []struct{ old, now string }{
	{"HIPAAKIT_KEK", EnvMasterKey},
	{"HIPAAKIT_KEK_FILE", EnvMasterKeyFile},
	{"HIPAAKIT_DATABASE_URL", EnvDatabaseURL},
}

// ConfigFromEnv returns the Config the environment describes: EnvDataDir,
// EnvDatabaseURL, EnvInstanceID, EnvSigningKeyFile, the master key
// (EnvMasterKey or EnvMasterKeyFile, not both), AWS KMS (EnvKMSKeyID,
// EnvKMSEndpoint) and backups (EnvBackupDir, or EnvS3Bucket, EnvS3Endpoint,
// EnvS3Region). getenv is os.Getenv in a main package; the
// caller may then override fields (from flags, say). It refuses the names
// of earlier versions (HIPAAKIT_KEK, HIPAAKIT_KEK_FILE,
// HIPAAKIT_DATABASE_URL) and both master-key
// names at once with a *ConfigError; Open validates the rest.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	for _, r := range retiredEnv {
		if getenv(r.old) != "" {
			return Config{}, &ConfigError{Field: r.old, Problem: "is no longer read", Fix: "rename it to " + r.now}
		}
	}
	c := Config{DataDir: getenv(EnvDataDir), DatabaseURL: getenv(EnvDatabaseURL), InstanceID: getenv(EnvInstanceID),
		Signing: SigningConfig{KeyFile: getenv(EnvSigningKeyFile)}}
	c.KEK = KEKConfig{Key: getenv(EnvMasterKey), KeyFile: getenv(EnvMasterKeyFile),
		KMSKeyID: getenv(EnvKMSKeyID), KMSEndpoint: getenv(EnvKMSEndpoint)}
	if c.KEK.Key != "" && c.KEK.KeyFile != "" {
		return Config{}, &ConfigError{Field: EnvMasterKey, Problem: "set together with " + EnvMasterKeyFile, Fix: "set one of them, not both"}
	}
	c.Backup = BackupConfig{Dir: getenv(EnvBackupDir), S3Bucket: getenv(EnvS3Bucket), S3Endpoint: getenv(EnvS3Endpoint), S3Region: getenv(EnvS3Region)}
	return c, nil
}

// String never shows secrets: Config is safe to log by accident.
func (c Config) String() string {
	return fmt.Sprintf("hipaakit.Config{DataDir set: %t, PostgreSQL: %t, KMS: %t, S3: %t}",
		c.DataDir != "", c.DatabaseURL != "", c.KEK.KMSKeyID != "", c.Backup.S3Bucket != "")
}

// LogValue keeps the master key and the database URL out of logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Format keeps every fmt verb, %#v and %+v included, on String.
func (c Config) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// MarshalJSON refuses to serialise a Config, which may hold the master key.
func (Config) MarshalJSON() ([]byte, error) {
	return nil, fmt.Errorf("hipaakit: Config holds secrets and is not serialised")
}
