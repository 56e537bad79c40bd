package hipaakit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/retention"
)

// openAuth builds the auth service over the stores (auth.New wires its
// parts through one tenant policy source).
func (d *Deployment) openAuth() error {
	ac := d.cfg.Auth
	tenants := ac.Tenants
	if tenants == nil {
		var err error
		if tenants, err = policy.NewTenants(DefaultTenantPolicy()); err != nil {
			return fmt.Errorf("hipaakit: default tenant policy: %w", err)
		}
	}
	d.tenants = tenants
	rbac := ac.RBAC // nil: no permissions, every route denied
	sessions := auth.SessionConfig{IdleTimeout: ac.IdleTimeout, AbsoluteTimeout: ac.AbsoluteTimeout, CookieName: ac.CookieName}
	if d.cfg.PlainHTTP {
		if ac.CookieName == "" {
			sessions.CookieName = "hipaakit_session"
		}
		sessions.InsecureCookie = true
	}
	var sealer auth.SecretSealer
	if !ac.WithoutTOTP {
		sealer = auth.PHISealer(d.Vault)
	}
	svc, err := auth.New(auth.Config{
		Users: d.Users, Sessions: d.Sessions, Attempts: d.attempts, Emergencies: d.Emergencies, Audit: d.Audit,
		RBAC: rbac, Tenants: tenants, Sealer: sealer, TOTP: ac.TOTP, Passwords: ac.Passwords, Argon2: ac.Argon2, Lockout: ac.Lockout,
		AdminRoles: ac.AdminRoles, PHIRoles: ac.PHIRoles, Session: sessions, OnEmergency: ac.OnEmergency, Passkeys: ac.Passkeys,
		ChallengeKey: d.challengeKey, Clock: d.Clock, Logger: d.Logger,
	})
	if errors.Is(err, auth.ErrMFAWithoutSealer) {
		return &ConfigError{Field: "Auth.WithoutTOTP", Problem: "a tenant policy requires MFA but TOTP secrets have no sealer",
			Fix: "remove Auth.WithoutTOTP (the Vault then seals TOTP secrets) or stop requiring MFA", Cause: err}
	}
	if err != nil {
		return err
	}
	d.Auth = svc
	return nil
}

// openDisposal wires the disposal ledger, the legal holds and the shredder.
func (d *Deployment) openDisposal(ctx context.Context) error {
	d.Ledger = d.newLedger()
	if err := d.openHolds(); err != nil {
		return err
	}
	// A restored key store must never bring back a shredded subject: replay
	// the ledger at every start, before any request can open a key.
	if _, err := d.Ledger.Replay(ctx, d.Keys); err != nil {
		return fmt.Errorf("hipaakit: replay the disposal ledger: %w", err)
	}
	if d.extraReplay != nil {
		if _, err := d.extraReplay.Replay(ctx, d.Keys); err != nil {
			return fmt.Errorf("hipaakit: replay the disposal ledger's file mirror: %w", err)
		}
	}
	var err error
	d.Shredder, err = disposal.New(disposal.Config{Vault: d.Vault, Keys: d.Keys, Ledger: d.Ledger, Audit: d.Audit,
		Holds: d.Holds, SigningKey: d.signKey, Clock: d.Clock})
	return err
}

// newLedger is the disposal ledger over the opened ledger store, mirrored
// when a mirror is open.
func (d *Deployment) newLedger() *disposal.Ledger {
	if d.ledgerMirror != nil {
		return disposal.NewMirroredLedger(d.ledgerStore, d.ledgerMirror)
	}
	return disposal.NewLedger(d.ledgerStore)
}

// openHolds builds the legal-hold registry over the opened hold store,
// recording to the audit trail.
func (d *Deployment) openHolds() (err error) {
	if d.Holds, err = retention.NewRegistry(retention.RegistryConfig{Holds: d.holdStore, Audit: d.Audit, Clock: d.Clock}); err != nil {
		return fmt.Errorf("hipaakit: legal holds: %w", err)
	}
	return nil
}

// openBackups opens the backup repository, one of the start-up checks: a
// repository the KEK cannot unlock stops the start before anything is
// written. Its audit events and legal holds reach the Deployment's trail
// and registry, which open later. A repository not created yet is created
// by initBackups, after the checks.
func (d *Deployment) openBackups(ctx context.Context) error {
	target, err := d.backupTarget(ctx)
	if err != nil {
		return err
	}
	d.backupTgt = target
	d.Backups, err = backup.Open(ctx, target, d.KEK, d.backupConfig())
	if errors.Is(err, backup.ErrNotFound) {
		return nil
	}
	if errors.Is(err, backup.ErrWrongKey) {
		if err := d.removeCreatedKEK(); err != nil {
			return err
		}
		return fmt.Errorf("%w: the key-encryption key (%s) does not unlock the backup repository; set %s (or KMS) to "+
			"the deployment's key", ErrWrongKEK, d.KEK.ID(), EnvMasterKey)
	}
	if err != nil {
		return fmt.Errorf("hipaakit: open the backup repository: %w", err)
	}
	return nil
}

// initBackups creates the backup repository on first use and the drills'
// scratch space.
func (d *Deployment) initBackups(ctx context.Context) error {
	if err := os.MkdirAll(d.path(DirScratch), 0o700); err != nil {
		return fmt.Errorf("hipaakit: scratch directory: %w", durable.WithoutPath(err))
	}
	if d.Backups != nil {
		return nil
	}
	var err error
	if d.Backups, err = backup.Init(ctx, d.backupTgt, d.KEK, d.backupConfig()); err != nil {
		return fmt.Errorf("hipaakit: create the backup repository: %w", err)
	}
	return nil
}

// backupConfig is the repository's Config: events to the deployment's
// trail, legal holds from its registry (both bound when used).
func (d *Deployment) backupConfig() backup.Config {
	return backup.Config{
		Audit: audit.WriterFunc(func(ctx context.Context, e audit.Event) error { return d.Audit.Write(ctx, e) }),
		Actor: audit.Actor{UserID: "system:backup"}, Clock: d.Clock,
		LegalHolds: backup.HoldsFunc(func(ctx context.Context, _ backup.Info) (bool, string, error) {
			return d.Holds.SubjectHold(ctx, "", nil)
		}),
	}
}

// BackupDir is the backup directory in use ("" with S3).
func (d *Deployment) BackupDir() string {
	if d.cfg.Backup.S3Bucket != "" {
		return ""
	}
	if d.cfg.Backup.Dir != "" {
		return d.cfg.Backup.Dir
	}
	return DefaultBackupDir(d.cfg.DataDir)
}

// backupTarget is the S3 bucket (credentials from the AWS SDK's default
// chain: environment, shared files, SSO, instance role) or the backup
// directory.
func (d *Deployment) backupTarget(ctx context.Context) (backup.Target, error) {
	b := d.cfg.Backup
	if b.S3Bucket == "" {
		if _, err := os.Stat(d.path(DirLegacyBackups)); err == nil {
			d.Logger.Warn("hipaakit: the data directory holds an old backup repository (" + DirLegacyBackups + "/); " +
				"backups now go beside the data directory (its name plus " + DefaultBackupDirSuffix + "): move it there")
		}
		t, err := backup.NewDirTarget(d.BackupDir())
		if err != nil {
			return nil, fmt.Errorf("hipaakit: open the backup directory: %w", err)
		}
		return t, nil
	}
	return s3Target(ctx, b, d.Clock)
}

// s3Target is the S3 bucket of b. The region is b.S3Region, else the AWS
// configuration's, else us-east-1.
func s3Target(ctx context.Context, b BackupConfig, clk clock.Clock) (backup.Target, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("hipaakit: load the AWS configuration for S3: %w", err)
	}
	region := cmp.Or(b.S3Region, awsCfg.Region, "us-east-1")
	client, err := s3target.NewClient(s3target.ClientOptions{Endpoint: b.S3Endpoint, Region: region, Credentials: awsCfg.Credentials})
	if err != nil {
		return nil, fmt.Errorf("hipaakit: S3 client: %w", err)
	}
	t, err := s3target.New(client, s3target.Config{Bucket: b.S3Bucket, Prefix: b.S3Prefix, Clock: clk})
	if err != nil {
		return nil, fmt.Errorf("hipaakit: S3 backup target: %w", err)
	}
	return t, nil
}

// DrillResult is the drill of one kind: its report, and the error of a
// failed drill (backup.ErrDrillFailed or the restore's error).
type DrillResult struct {
	Kind string
	// Covers is what the drilled member of a set holds (DrillSet).
	Covers []string
	Report *backup.DrillReport
	Err    error
}

// Drill restores the newest backup of each of d.Drills' kinds into the
// scratch space and compares it with its manifest. It returns an error only
// when a drill could not run at all (for example backup.ErrNotFound: no
// backup of that kind yet); a failed drill is a DrillResult with Err set.
func (d *Deployment) Drill(ctx context.Context) ([]DrillResult, error) {
	var results []DrillResult
	for _, dr := range d.Drills {
		opts := backup.DrillOptions{Kind: dr.Kind, ScratchDir: d.path(DirScratch), Ledger: d.Ledger}
		if dr.Sink != nil {
			opts.Sink = dr.Sink()
		}
		rep, err := d.Backups.Drill(ctx, opts)
		if err != nil && rep == nil {
			return results, err
		}
		results = append(results, DrillResult{Kind: dr.Kind, Report: rep, Err: err})
	}
	return results, nil
}

// BackupAll backs up every source in d.BackupSources, in order, and
// returns the new backups' IDs.
func (d *Deployment) BackupAll(ctx context.Context) ([]string, error) {
	var ids []string
	for _, src := range d.BackupSources {
		m, err := d.Backups.Backup(ctx, src)
		if err != nil {
			return ids, err
		}
		ids = append(ids, m.ID)
	}
	return ids, nil
}
