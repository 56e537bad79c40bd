package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/auth/password"
)

// config is everything the clinic reads from flags and the environment.
type config struct {
	Addr        string
	DataDir     string
	DatabaseURL string // empty: embedded file stores under DataDir
	TLSCert     string
	TLSKey      string
	NoTLS       bool // plain HTTP; allowed only on a loopback address
	// MasterKey is the local master key from HIPAAKIT_MASTER_KEY;
	// MasterKeyFile the key file from HIPAAKIT_MASTER_KEY_FILE. Neither:
	// the key file beside DataDir (created on first start, see package
	// hipaakit).
	MasterKey     string
	MasterKeyFile string
	KMSKeyID      string // AWS KMS key ID or ARN; switches the KEK to KMS
	KMSEndpoint   string
	S3Bucket      string // backups to S3 instead of the directory beside DataDir
	BackupDir     string // backups to this directory (one shared by every replica)
	InstanceID    string // this replica's name (default: host name + a suffix kept in DataDir)
	SigningKey    string // signing key file (default DataDir/signing-key.pem); replicas share one
	LeaseTTL      time.Duration
	S3Endpoint    string
	S3Region      string
	IdleTimeout   time.Duration
	Absolute      time.Duration
	// SessionSweep is how often expired sessions are deleted and their
	// session_timeout events recorded (0: hipaakit.DefaultSweepInterval).
	SessionSweep time.Duration
	Seed         bool // create the demo tenant on first start
	// PasskeyRPID and PasskeyOrigins enable passkeys (WebAuthn): the
	// relying party ID (the public domain) and the exact origins.
	PasskeyRPID    string
	PasskeyOrigins []string
	// argon2 are the password-hashing parameters (zero: the library's
	// defaults). No flag sets them: only the tests lower them, to the
	// cheapest the hasher accepts.
	argon2 password.Argon2Params
}

// errUsage marks errors whose message is a usage problem (exit code 2).
var errUsage = errors.New("usage")

// parseConfig reads flags, falling back to the environment for the values
// a deployment sets there.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env, err := hipaakit.ConfigFromEnv(getenv)
	if err != nil {
		return config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	var c config
	fs := flag.NewFlagSet("clinic", flag.ContinueOnError)
	// The flag package would print its error and the whole usage; run
	// prints one line instead, and the usage only for -h.
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.DataDir, "data", cmp.Or(env.DataDir, "./clinic-data"), "data directory for the embedded stores (env HIPAAKIT_DATA_DIR); the master key and backups go beside it")
	fs.StringVar(&c.DatabaseURL, "database-url", env.DatabaseURL, "PostgreSQL URL; switches every store to PostgreSQL (env DATABASE_URL)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM); default: a self-signed certificate in the data directory")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.BoolVar(&c.NoTLS, "no-tls", false, "serve plain HTTP (only allowed on a loopback address)")
	fs.StringVar(&c.KMSKeyID, "kms-key-id", env.KEK.KMSKeyID, "AWS KMS key ID or ARN for the key-encryption key (env HIPAAKIT_KMS_KEY_ID)")
	fs.StringVar(&c.KMSEndpoint, "kms-endpoint", env.KEK.KMSEndpoint, "AWS KMS endpoint override (env HIPAAKIT_KMS_ENDPOINT)")
	fs.StringVar(&c.BackupDir, "backup-dir", env.Backup.Dir, "backup directory, shared by every replica (env HIPAAKIT_BACKUP_DIR; default beside the data directory)")
	fs.StringVar(&c.InstanceID, "instance-id", env.InstanceID, "this replica's instance ID, one per replica (env HIPAAKIT_INSTANCE_ID; default host name + a suffix kept in the data directory)")
	fs.StringVar(&c.SigningKey, "signing-key", env.Signing.KeyFile, "signing key file of audit and ledger checkpoints (env HIPAAKIT_SIGNING_KEY_FILE; default in the data directory)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", hipaakit.DefaultLeaseTTL, "how long this replica's stream leases last without renewal")
	fs.StringVar(&c.S3Bucket, "s3-bucket", env.Backup.S3Bucket, "S3 bucket for backups (env HIPAAKIT_S3_BUCKET)")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", env.Backup.S3Endpoint, "S3 endpoint override for S3-compatible stores (env HIPAAKIT_S3_ENDPOINT)")
	fs.StringVar(&c.S3Region, "s3-region", cmp.Or(env.Backup.S3Region, "us-east-1"), "S3 region (env AWS_REGION)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 15*time.Minute, "log users off after this long without activity")
	fs.DurationVar(&c.Absolute, "session-lifetime", 12*time.Hour, "end every session after this long")
	fs.DurationVar(&c.SessionSweep, "session-sweep", hipaakit.DefaultSweepInterval, "delete expired sessions and record their timeouts this often")
	fs.BoolVar(&c.Seed, "seed", true, "create the demo tenant and one user per role on first start")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprintln(stderr, "Usage: clinic [flags]")
		fs.PrintDefaults()
		return config{}, err
	} else if err != nil {
		return config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	c.MasterKey, c.MasterKeyFile = env.KEK.Key, env.KEK.KeyFile
	return c, c.validate()
}

func (c config) validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("%w: -addr %q is not host:port", errUsage, c.Addr)
	}
	if c.NoTLS && !isLoopback(host) {
		return fmt.Errorf("%w: plain HTTP (-no-tls) is allowed only on a loopback address, not %q; PHI must be encrypted in transit", errUsage, host)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: -tls-cert and -tls-key go together", errUsage)
	}
	if c.NoTLS && c.TLSCert != "" {
		return fmt.Errorf("%w: -no-tls and -tls-cert contradict each other", errUsage)
	}
	if c.IdleTimeout <= 0 || c.Absolute <= 0 || c.IdleTimeout > c.Absolute {
		return fmt.Errorf("%w: need 0 < -idle-timeout <= -session-lifetime", errUsage)
	}
	if c.SessionSweep <= 0 {
		return fmt.Errorf("%w: -session-sweep must be positive", errUsage)
	}
	if c.DatabaseURL != "" {
		// The parse error is not shown: it could quote the password.
		if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
			return fmt.Errorf("%w: -database-url (DATABASE_URL) is not a valid PostgreSQL URL", errUsage)
		}
	}
	if c.KMSEndpoint != "" && c.KMSKeyID == "" {
		return fmt.Errorf("%w: -kms-endpoint needs -kms-key-id", errUsage)
	}
	if (c.S3Endpoint != "") && c.S3Bucket == "" {
		return fmt.Errorf("%w: -s3-endpoint needs -s3-bucket", errUsage)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return fmt.Errorf("%w: -data must name a directory", errUsage)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
