package hipaakit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

// Validate refuses the settings Open would refuse without touching the disk
// or the network, each with a *ConfigError (errors.Is ErrUnsafeConfig) that
// says what to do. Open calls it first.
func (c Config) Validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return &ConfigError{Field: "DataDir", Problem: "not set", Fix: "name the directory that holds the deployment's data"}
	}
	return c.validateSettings()
}

// validateSettings is Validate without the DataDir requirement, which
// Inspect drops on PostgreSQL.
func (c Config) validateSettings() error {
	if c.DatabaseURL != "" {
		// The parse error is not shown: it could quote the password.
		if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
			return ErrBadDatabaseURL
		}
	}
	if c.InstanceID != "" && !ValidInstanceID(c.InstanceID) {
		return &ConfigError{Field: "InstanceID", Problem: "is not a valid instance ID",
			Fix: "use 1 to 48 letters, digits, '-', '_' or '.', beginning with a letter or digit"}
	}
	if c.AuditStream != "" && !audit.ValidStream(c.AuditStream+"-x") || len(c.AuditStream) > 15 {
		return &ConfigError{Field: "AuditStream", Problem: "is not a valid stream prefix",
			Fix: "use up to 15 letters, digits, '-', '_' or '.', beginning with a letter or digit"}
	}
	if n := len(c.Auth.ChallengeKey); n > 0 && n < MinChallengeKeySize {
		return &ConfigError{Field: "Auth.ChallengeKey", Problem: fmt.Sprintf("is %d bytes, shorter than %d", n, MinChallengeKeySize),
			Fix: "give every replica the same random key of at least 32 bytes, or leave it empty for the deployment's stored key"}
	}
	if c.LeaseTTL < 0 {
		return &ConfigError{Field: "LeaseTTL", Problem: "is negative", Fix: "leave it zero (30 s) or give a positive duration"}
	}
	k := c.KEK
	if k.Key != "" && k.KMSKeyID != "" {
		return &ConfigError{Field: "KEK", Problem: "both a local master key and an AWS KMS key are set",
			Fix: "set one of KEK.Key (" + EnvMasterKey + ") and KEK.KMSKeyID (" + EnvKMSKeyID + ")"}
	}
	if k.KeyFile != "" && k.KMSKeyID != "" {
		return &ConfigError{Field: "KEK", Problem: "both a master key file and an AWS KMS key are set",
			Fix: "set one of KEK.KeyFile (" + EnvMasterKeyFile + ") and KEK.KMSKeyID (" + EnvKMSKeyID + ")"}
	}
	if (k.KMSEndpoint != "" || k.KMSRegion != "") && k.KMSKeyID == "" {
		return &ConfigError{Field: "KEK.KMSEndpoint", Problem: "set without KEK.KMSKeyID", Fix: "set the KMS key ID or ARN too"}
	}
	for _, dir := range c.AppDirs {
		if !filepath.IsLocal(dir) || reserved[filepath.Clean(dir)] {
			return &ConfigError{Field: "AppDirs", Problem: "names a directory outside the data directory or one of the SDK's stores",
				Fix: "give names relative to DataDir other than the Layout names (" + DirKeys + ", " + DirAudit + ", ...)"}
		}
	}
	b := c.Backup
	if (b.S3Endpoint != "" || b.S3Prefix != "") && b.S3Bucket == "" {
		return &ConfigError{Field: "Backup.S3Endpoint", Problem: "set without Backup.S3Bucket", Fix: "set the bucket too"}
	}
	if b.S3Bucket != "" && b.Dir != "" {
		return &ConfigError{Field: "Backup", Problem: "both a backup directory and an S3 bucket are set", Fix: "set one of Backup.Dir and Backup.S3Bucket"}
	}
	if b.Dir != "" && c.DataDir != "" && within(c.DataDir, b.Dir) {
		return &ConfigError{Field: "Backup.Dir", Problem: "the backup directory is inside the data directory it backs up",
			Fix: "choose a directory outside DataDir (default: " + DefaultBackupDirSuffix + " beside it), ideally on another disk"}
	}
	return c.validateAuth()
}

// validateAuth refuses MFA without a sealer for TOTP secrets.
func (c Config) validateAuth() error {
	if !c.Auth.WithoutTOTP {
		return nil
	}
	requires := c.Auth.Tenants == nil // DefaultTenantPolicy requires MFA
	if r, ok := c.Auth.Tenants.(interface{ RequiresMFA() bool }); ok {
		requires = r.RequiresMFA()
	} else if c.Auth.Tenants != nil {
		p, err := c.Auth.Tenants.TenantPolicy(context.Background(), "")
		requires = err != nil || p.RequireMFA
	}
	if requires {
		return &ConfigError{Field: "Auth.WithoutTOTP", Problem: "a tenant policy requires MFA but TOTP secrets have no sealer",
			Fix: "remove Auth.WithoutTOTP (the Vault then seals TOTP secrets) or stop requiring MFA", Cause: auth.ErrMFAWithoutSealer}
	}
	return nil
}

// within reports whether path is dir or inside it, after making both
// absolute and clean (symbolic links are not followed).
func within(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err := errors.Join(err1, err2); err != nil {
		return true // cannot tell: refuse
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))))
}

// reserved are the Layout names the SDK's stores use.
var reserved = map[string]bool{DirKeys: true, DirAudit: true, DirUsers: true, DirSessions: true, DirAttempts: true,
	DirLedger: true, DirLedgerMirror: true, DirHolds: true, DirSweep: true, DirBreach: true, DirScratch: true, FileEmergency: true, FileLock: true,
	FileSigningKey: true, FileLegacyKEK: true, DirLegacyBackups: true, ".": true}
