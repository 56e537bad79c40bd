package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/auth/totp"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// demoTenant is the tenant the first start creates.
const demoTenant = "demo-clinic"

// The clinic's settings that are not flags. openApp applies them, and the
// deployment's service description (hipaakit.json) states them.
const (
	lockoutThreshold = 10        // consecutive failures that lock an account
	auditRetention   = "P6Y"     // 45 CFR 164.316(b)(2); the clinic never purges its trail
	dirRecords       = "records" // the sealed patient records under the data directory
	s3Prefix         = "clinic/" // begins the name of every backup object in S3
)

// app is the clinic: its deployment (every SDK component, hipaakit.Open),
// its records and its handlers.
type app struct {
	cfg     config
	d       *hipaakit.Deployment
	clock   clock.Clock
	log     *slog.Logger
	records recordStore
	alerts  *alertList
	clinic  *clinic
	// breach runs breach response.
	breach *breach.Manager
}

// openApp opens the clinic's deployment (the embedded stores under
// cfg.DataDir, or PostgreSQL when cfg.DatabaseURL is set) and its records.
// It fails with a clear error for a locked data directory, an unreachable
// database or a wrong key.
func openApp(ctx context.Context, cfg config, clk clock.Clock, logOut io.Writer) (_ *app, err error) {
	a := &app{cfg: cfg, clock: clock.OrSystem(clk), log: slog.New(slog.NewTextHandler(logOut, nil))}
	a.alerts = &alertList{app: a}
	dc, err := a.deploymentConfig()
	if err != nil {
		return nil, err
	}
	if a.d, err = hipaakit.Open(ctx, dc); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.d.DB != nil {
		a.records, err = newPGRecords(ctx, a.d.DB)
	} else {
		a.records, err = newFileRecords(a.d.DataPath(dirRecords))
	}
	if err != nil {
		return nil, err
	}
	a.clinic = &clinic{vault: a.d.Vault, records: a.records, audit: a.d.Audit, guard: a.d.Auth,
		now: a.clock.Now, log: a.log, tenant: demoTenant, shredder: a.d.Shredder, holds: a.d.Holds}
	return a, a.openBreach()
}

// deploymentConfig is the clinic's deployment: its flags, its roles and its
// one tenant policy. A lost authenticator is recovered with a recovery code
// or by an administrator's reset; PHI-reading roles are granted by two
// administrators; break-glass keeps the library's reason and daily limits.
func (a *app) deploymentConfig() (hipaakit.Config, error) {
	c := a.cfg
	tp := policy.Tenant{TenantID: demoTenant, RequireMFA: true, IdleTimeout: c.IdleTimeout, AbsoluteTimeout: c.Absolute,
		RecoveryMethods: []policy.RecoveryMethod{policy.RecoveryCodes, policy.RecoveryAdminReset}, ApprovePHIGrants: true}
	def := tp
	def.TenantID = ""
	tenants, err := policy.NewTenants(def, tp)
	if err != nil {
		return hipaakit.Config{}, err
	}
	rbac, err := clinicRBAC()
	if err != nil {
		return hipaakit.Config{}, err
	}
	dc := hipaakit.Config{DataDir: c.DataDir, DatabaseURL: c.DatabaseURL,
		KEK:        hipaakit.KEKConfig{Key: c.MasterKey, KeyFile: c.MasterKeyFile, KMSKeyID: c.KMSKeyID, KMSEndpoint: c.KMSEndpoint},
		Backup:     hipaakit.BackupConfig{Dir: c.BackupDir, S3Bucket: c.S3Bucket, S3Endpoint: c.S3Endpoint, S3Region: c.S3Region},
		InstanceID: c.InstanceID, Signing: hipaakit.SigningConfig{KeyFile: c.SigningKey}, LeaseTTL: c.LeaseTTL,
		Auth: hipaakit.AuthConfig{Tenants: tenants, RBAC: rbac, AdminRoles: adminRoles, PHIRoles: phiRoles(rbac),
			Lockout: auth.LockoutConfig{MaxFailures: lockoutThreshold}, Argon2: c.argon2,
			TOTP: totp.Config{Issuer: "hipaakit clinic"}, IdleTimeout: c.IdleTimeout, AbsoluteTimeout: c.Absolute,
			OnEmergency: a.alerts.add, Passkeys: passkey.Config{RPID: c.PasskeyRPID, Origins: c.PasskeyOrigins}},
		BlindIndexes: map[string]phi.Normalizer{"mrn": phi.NormalizeFold},
		AppDirs:      []string{dirRecords}, AppTables: []string{recordsTable}, AuditStream: "clinic",
		SweepInterval: c.SessionSweep, PlainHTTP: c.NoTLS, Clock: a.clock, Logger: a.log,
		// hipaakit.json, for `hipaakit report --config <data>/hipaakit.json`.
		Service: hipaakit.Description{Name: "clinic", EmergencyRoles: []string{roleEmergency}, AuditRetention: auditRetention,
			Retention: []serviceconfig.RetentionRule{{Kind: "audit", Keep: auditRetention}},
			TLS:       serviceconfig.TLS{Enabled: !c.NoTLS, MinVersion: "1.2", HSTS: !c.NoTLS, LoopbackOnly: c.NoTLS}}}
	if c.S3Bucket != "" {
		dc.Backup.S3Prefix = s3Prefix
	}
	if c.NoTLS {
		dc.Auth.CookieName, dc.Service.TLS.MinVersion = "clinic_session", ""
	}
	return dc, nil
}

// Close closes the deployment.
func (a *app) Close() error { return a.d.Close() }

// now is a convenience for code that only needs the time.
func (a *app) now() time.Time { return a.clock.Now() }
