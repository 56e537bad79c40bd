package main

import (
	"path/filepath"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/compliance/serviceconfig"
)

// writeServiceConfig writes <data-dir>/hipaakit.json, atomically, so that
//
//	go run ./cmd/hipaakit report --config clinic-data/hipaakit.json
//
// reports on this deployment. It holds no secret: public keys, paths
// (relative to the file), the database URL without its password, and the
// policy in force. A DATABASE_URL in keyword/value form ("host=...
// dbname=...") cannot be stated; then the file is not written and the log
// says why.
func (a *app) writeServiceConfig() error {
	d, pp := a.d, passwordPolicy()
	sc := serviceconfig.Config{Version: serviceconfig.Version, Service: "clinic", DataDir: ".",
		AuditKeys: d.TrustedKeys().PEMs(), KEK: "local",
		Policy: serviceconfig.Policy{RequireMFA: true, IdleTimeout: serviceconfig.Duration(a.cfg.IdleTimeout),
			AbsoluteTimeout: serviceconfig.Duration(a.cfg.Absolute), LockoutThreshold: lockoutThreshold,
			PasswordMinLength: min(pp.MinLength, pp.MinLengthWithMFA), PasswordBlocklist: "default"},
		EmergencyRoles: []string{roleEmergency},
		TLS:            serviceconfig.TLS{Enabled: !a.cfg.NoTLS, HSTS: !a.cfg.NoTLS, LoopbackOnly: a.cfg.NoTLS},
		AuditRetention: auditRetention, Retention: []serviceconfig.RetentionRule{{Kind: "audit", Keep: auditRetention}},
		Backup: serviceconfig.Backup{Target: "directory", Dir: a.relative(d.BackupDir())}}
	if !a.cfg.NoTLS {
		sc.TLS.MinVersion = "1.2" // tlsConfig's MinVersion
	}
	if k := d.KeyLocation(); k.Kind == hipaakit.KeyInFile {
		sc.KEKFile = a.relative(k.File)
	} else if k.Kind == hipaakit.KeyInKMS {
		sc.KEK, sc.KMSEndpoint = "aws-kms:"+a.cfg.KMSKeyID, a.cfg.KMSEndpoint
	}
	if a.cfg.S3Bucket != "" {
		sc.Backup = serviceconfig.Backup{Target: "s3", Bucket: a.cfg.S3Bucket, Prefix: s3Prefix,
			Endpoint: a.cfg.S3Endpoint, Region: a.cfg.S3Region}
	}
	if d.DB != nil {
		u, err := serviceconfig.PublicDatabaseURL(a.cfg.DatabaseURL)
		if err != nil {
			a.log.Warn("hipaakit.json not written: give DATABASE_URL as a postgres:// URL for hipaakit report")
			return nil
		}
		sc.DatabaseURL, sc.DatabaseSchema, sc.LedgerSchema = u, d.Schema, d.LedgerSchema
	}
	return serviceconfig.Write(d.DataPath(serviceconfig.FileName), sc)
}

// relative is path relative to the data directory (where hipaakit.json
// is), or path itself when it has none.
func (a *app) relative(path string) string {
	dir, err1 := filepath.Abs(a.cfg.DataDir)
	p, err2 := filepath.Abs(path)
	rel, err := filepath.Rel(dir, p)
	if err1 != nil || err2 != nil || err != nil {
		return path
	}
	return rel
}
