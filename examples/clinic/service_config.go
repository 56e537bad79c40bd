package main

import (
	"path/filepath"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/compliance/serviceconfig"
)

// The clinic's security settings that are not flags. openAuth applies them
// and hipaakit.json states them, from these same values.
const (
	lockoutThreshold = 10    // consecutive failures that lock an account
	auditRetention   = "P6Y" // 45 CFR 164.316(b)(2); the clinic never purges its trail
)

// passwordPolicy is auth's default (NIST SP 800-63B: 8 characters with MFA,
// 15 without, a blocklist, no composition rules).
func passwordPolicy() auth.PasswordPolicy { return auth.DefaultPasswordPolicy() }

// serviceConfigPath is where every start writes the service configuration.
func (a *app) serviceConfigPath() string {
	return filepath.Join(a.cfg.DataDir, serviceconfig.FileName)
}

// writeServiceConfig writes <data-dir>/hipaakit.json, atomically, so that
//
//	go run ./cmd/hipaakit report --config clinic-data/hipaakit.json
//
// reports on this deployment. It holds no secret: public keys, paths, the
// database URL without its password, and the policy in force. A DATABASE_URL
// in keyword/value form ("host=... dbname=...") cannot be stated; then the
// file is not written and the log says why.
func (a *app) writeServiceConfig() error {
	sc, ok := a.serviceConfig()
	if !ok {
		a.log.Warn("hipaakit.json not written: give DATABASE_URL as a postgres:// URL for hipaakit report")
		return nil
	}
	return serviceconfig.Write(a.serviceConfigPath(), sc)
}

func (a *app) serviceConfig() (serviceconfig.Config, bool) {
	pp := passwordPolicy()
	sc := serviceconfig.Config{
		Version:   serviceconfig.Version,
		Service:   "clinic",
		DataDir:   ".", // relative to the file, which is in the data directory
		AuditKeys: []string{serviceconfig.EncodePublicKey(a.auditKeys()[0])},
		KEK:       "local",
		Policy: serviceconfig.Policy{RequireMFA: true, IdleTimeout: serviceconfig.Duration(a.cfg.IdleTimeout),
			AbsoluteTimeout: serviceconfig.Duration(a.cfg.Absolute), LockoutThreshold: lockoutThreshold,
			PasswordMinLength: min(pp.MinLength, pp.MinLengthWithMFA), PasswordBlocklist: "default"},
		EmergencyRoles: []string{roleEmergency},
		TLS:            serviceconfig.TLS{Enabled: !a.cfg.NoTLS, HSTS: !a.cfg.NoTLS, LoopbackOnly: a.cfg.NoTLS},
		AuditRetention: auditRetention,
		Retention:      []serviceconfig.RetentionRule{{Kind: "audit", Keep: auditRetention}},
		Backup:         serviceconfig.Backup{Target: "directory"},
	}
	if !a.cfg.NoTLS {
		sc.TLS.MinVersion = "1.2" // tlsConfig's MinVersion
	}
	if a.cfg.KMSKeyID != "" {
		sc.KEK, sc.KMSEndpoint = "aws-kms:"+a.cfg.KMSKeyID, a.cfg.KMSEndpoint
	}
	if a.cfg.S3Bucket != "" {
		sc.Backup = serviceconfig.Backup{Target: "s3", Bucket: a.cfg.S3Bucket, Prefix: s3Prefix,
			Endpoint: a.cfg.S3Endpoint, Region: a.cfg.S3Region}
	}
	if a.pg != nil {
		u, err := serviceconfig.PublicDatabaseURL(a.cfg.DatabaseURL)
		if err != nil {
			return sc, false
		}
		sc.DatabaseURL, sc.DatabaseSchema, sc.LedgerSchema = u, a.pg.schema, a.pg.ledgerSchema
	}
	return sc, true
}
