package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/retention"
)

// demoTenant is the tenant the first start creates.
const demoTenant = "demo-clinic"

// app is the wired service: stores, vault, audit trail, auth, disposal.
type app struct {
	cfg     config
	clock   clock.Clock
	log     *slog.Logger
	signKey ed25519.PrivateKey

	kek phi.KEK
	// The stores: embedded files under cfg.DataDir (app_file.go) or
	// PostgreSQL (app_pg.go). Everything else is wired the same way.
	keys        phi.KeyStore
	auditLog    auditTrail
	records     recordStore
	users       auth.UserStore
	sessions    auth.SessionStore
	attempts    auth.AttemptStore // client-key and unknown-name throttles, durable
	emergencies auth.EmergencyLog
	ledgerStore disposal.LedgerStore
	holdStore   retention.HoldStore
	// purgeAttempts deletes the attempt counts idle since before cutoff.
	purgeAttempts func(ctx context.Context, cutoff time.Time) error
	// What a backup covers and how each kind is drilled.
	backupSources []backup.Source
	drills        []drill

	vault    *phi.Vault
	auth     *auth.Service
	alerts   *alertList
	holds    *retention.Registry
	ledger   *disposal.Ledger
	shredder *disposal.Shredder
	backups  *backup.Repository
	clinic   *clinic

	pg         *pgState // nil on the embedded stores
	kekCreated bool     // this start created the local master key file
	closers    []func() error
}

// auditTrail is what the clinic needs of its audit trail: appending, search
// for the audit API and verification.
type auditTrail interface {
	audit.Writer
	audit.Searcher
	Verify(ctx context.Context, opts audit.VerifyOptions) (audit.Result, error)
}

// drill is one restore drill: the newest backup of kind restored into the
// scratch space sink returns (nil: the backup package's default for kind).
type drill struct {
	kind string
	sink func() backup.Sink
}

var errDataDirLocked = errors.New("clinic: the data directory is in use by another clinic process")

// openApp wires the service: the embedded stores under cfg.DataDir, or
// PostgreSQL when cfg.DatabaseURL is set. It fails with a clear error for a
// locked data directory, an unreachable database or a wrong key.
func openApp(ctx context.Context, cfg config, clk clock.Clock, logOut io.Writer) (_ *app, err error) {
	a := &app{cfg: cfg, clock: clock.OrSystem(clk), log: slog.New(slog.NewTextHandler(logOut, nil))}
	a.alerts = &alertList{app: a}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.lockDataDir(); err != nil {
		return nil, err
	}
	if a.signKey, err = loadSigningKey(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := a.openKEK(ctx); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		err = a.openPGStores(ctx)
	} else {
		err = a.openFileStores(ctx)
	}
	if err != nil {
		return nil, err
	}
	a.vault, err = phi.NewVault(a.keys, a.kek, phi.WithClock(a.clock), phi.WithAuditWriter(a.auditLog),
		phi.WithAuditInfo(revealAuditInfo),
		phi.WithBlindIndex("mrn", phi.NormalizeFold))
	if err != nil {
		return nil, err
	}
	if err := a.checkMasterKey(ctx); err != nil {
		return nil, err
	}
	if err := a.openAuth(); err != nil {
		return nil, err
	}
	a.startSweeper()
	if err := a.openDisposal(ctx); err != nil {
		return nil, err
	}
	if err := a.openBackups(ctx); err != nil {
		return nil, err
	}
	a.clinic = &clinic{vault: a.vault, records: a.records, audit: a.auditLog, guard: a.auth,
		now: a.clock.Now, log: a.log, tenant: demoTenant, shredder: a.shredder, holds: a.holds}
	if err := a.writeServiceConfig(); err != nil {
		return nil, err
	}
	return a, nil
}

// lockDataDir creates the data directory and takes its lock, held until
// Close: one clinic process per data directory.
func (a *app) lockDataDir() error {
	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("clinic: create data directory: %w", err)
	}
	lock, err := durable.TryLock(filepath.Join(a.cfg.DataDir, "LOCK"))
	if errors.Is(err, durable.ErrLocked) {
		return errDataDirLocked
	}
	if err != nil {
		return fmt.Errorf("clinic: lock data directory: %w", err)
	}
	a.closers = append(a.closers, lock.Unlock)
	return nil
}

// openKEK opens the key-encryption key: AWS KMS with -kms-key-id, else the
// local master key from HIPAAKIT_MASTER_KEY or the data directory.
func (a *app) openKEK(ctx context.Context) error {
	var err error
	switch {
	case a.cfg.KMSKeyID != "":
		var opts []awskms.Option
		if a.cfg.KMSEndpoint != "" {
			opts = append(opts, awskms.WithEndpoint(a.cfg.KMSEndpoint))
		}
		a.kek, err = awskms.LoadDefault(ctx, a.cfg.KMSKeyID, opts...)
		if err != nil {
			return fmt.Errorf("clinic: AWS KMS key: %w", err)
		}
		return nil
	case a.cfg.MasterKey != "":
		a.kek, err = localkek.Parse(a.cfg.MasterKey)
	default:
		_, statErr := os.Stat(a.dataPath(localkek.FileName))
		a.kek, err = localkek.FromDir(a.cfg.DataDir)
		a.kekCreated = err == nil && errors.Is(statErr, os.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("clinic: master key: %w", err)
	}
	return nil
}

// checkMasterKey opens one stored keyset, so that a wrong master key stops
// the start with a clear message instead of failing every request.
func (a *app) checkMasterKey(ctx context.Context) error {
	ks, err := a.keys.List(ctx, "", 1)
	if err != nil {
		return fmt.Errorf("clinic: list stored keys: %w", err)
	}
	if len(ks) == 0 {
		return nil
	}
	if ks[0].KEKID != a.kek.ID() && a.kekCreated {
		// Keys exist but the master key file did not: do not leave the
		// fresh key behind, it wraps nothing.
		if err := os.Remove(a.dataPath(localkek.FileName)); err != nil {
			return fmt.Errorf("clinic: remove the new master key file: %w", err)
		}
		return fmt.Errorf("clinic: the stored keys were wrapped by %s, but there is no %s in the data directory; "+
			"set HIPAAKIT_MASTER_KEY (or -kms-key-id) to that key or restore the file", ks[0].KEKID, localkek.FileName)
	}
	if ks[0].KEKID != a.kek.ID() {
		return fmt.Errorf("clinic: the key-encryption key (%s) is not the one that wrapped the stored keys (%s); "+
			"set HIPAAKIT_MASTER_KEY (or -kms-key-id) to the right key or point -data at the matching directory", a.kek.ID(), ks[0].KEKID)
	}
	return nil
}

// openAuth wires authentication, sessions and the RBAC guard over the stores.
func (a *app) openAuth() error {
	// A lost authenticator is recovered with a recovery code or by an
	// administrator's reset; PHI-reading roles are granted by two
	// administrators; break-glass keeps the library's reason and daily limits.
	policy := auth.TenantPolicy{TenantID: demoTenant, RequireMFA: true, IdleTimeout: a.cfg.IdleTimeout, AbsoluteTimeout: a.cfg.Absolute,
		RecoveryMethods: []auth.RecoveryMethod{auth.RecoveryCodes, auth.RecoveryAdminReset}, ApprovePHIGrants: true}
	def := policy
	def.TenantID = ""
	tenants, err := auth.NewTenantPolicies(def, policy)
	if err != nil {
		return err
	}
	rbac, err := clinicRBAC()
	if err != nil {
		return err
	}
	sessions := auth.SessionConfig{IdleTimeout: a.cfg.IdleTimeout, AbsoluteTimeout: a.cfg.Absolute}
	if a.cfg.NoTLS {
		sessions.CookieName, sessions.InsecureCookie = "clinic_session", true
	}
	a.auth, err = auth.New(auth.Config{
		Users: a.users, Sessions: a.sessions, Attempts: a.attempts, Emergencies: a.emergencies, Audit: a.auditLog,
		RBAC: rbac, Tenants: tenants, Sealer: auth.PHISealer(a.vault), TOTP: auth.TOTPConfig{Issuer: "hipaakit clinic"},
		Passwords: passwordPolicy(), Lockout: auth.LockoutConfig{MaxFailures: lockoutThreshold, ForgetAfter: attemptsForget},
		AdminRoles: adminRoles, PHIRoles: phiRoles(rbac), Session: sessions, OnEmergency: a.alerts.add,
		Clock: a.clock, Logger: a.log,
	})
	return err
}

// openDisposal wires the disposal ledger, legal holds and the shredder.
func (a *app) openDisposal(ctx context.Context) error {
	a.ledger = disposal.NewLedger(a.ledgerStore)
	a.holds = retention.NewRegistry(a.holdStore, a.auditLog, a.clock)
	// A restored key store must never bring back a shredded patient: replay
	// the ledger at every start, before any request can open a key.
	if _, err := a.ledger.Replay(ctx, a.keys); err != nil {
		return fmt.Errorf("clinic: replay disposal ledger: %w", err)
	}
	var err error
	a.shredder, err = disposal.New(disposal.Config{Vault: a.vault, Keys: a.keys, Ledger: a.ledger, Audit: a.auditLog,
		Holds: a.holds, SigningKey: a.signKey, Clock: a.clock})
	return err
}

// scratchDir is where restore drills restore to (removed after each drill).
func (a *app) scratchDir() string { return filepath.Join(a.cfg.DataDir, "scratch") }

// openBackups opens the backup repository on S3 (-s3-bucket) or in the data
// directory, creating it on first use.
func (a *app) openBackups(ctx context.Context) error {
	target, err := a.backupTarget(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.scratchDir(), 0o700); err != nil {
		return fmt.Errorf("clinic: scratch directory: %w", err)
	}
	opts := []backup.Option{backup.WithAudit(a.auditLog, audit.Actor{UserID: "system:backup"}),
		backup.WithClock(a.clock), backup.WithLegalHolds(backup.HoldsFrom(a.holds))}
	a.backups, err = backup.Open(ctx, target, a.kek, opts...)
	if errors.Is(err, backup.ErrNotFound) {
		a.backups, err = backup.Init(ctx, target, a.kek, opts...)
	}
	if err != nil {
		return fmt.Errorf("clinic: open backup repository: %w", err)
	}
	return nil
}

// s3Prefix begins the name of every backup object in the S3 bucket.
const s3Prefix = "clinic/"

// backupTarget is the S3 bucket of -s3-bucket (credentials from the AWS SDK's
// default chain: environment, shared files, SSO, instance role), or the
// backups directory in the data directory.
func (a *app) backupTarget(ctx context.Context) (backup.Target, error) {
	if a.cfg.S3Bucket == "" {
		t, err := backup.NewDirTarget(a.dataPath(dirBackups))
		if err != nil {
			return nil, fmt.Errorf("clinic: open backup directory: %w", err)
		}
		return t, nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("clinic: load the AWS configuration for S3: %w", err)
	}
	client, err := s3target.NewClient(s3target.ClientOptions{Endpoint: a.cfg.S3Endpoint, Region: a.cfg.S3Region,
		Credentials: awsCfg.Credentials})
	if err != nil {
		return nil, fmt.Errorf("clinic: S3 client: %w", err)
	}
	t, err := s3target.New(client, s3target.Config{Bucket: a.cfg.S3Bucket, Prefix: s3Prefix, Clock: a.clock})
	if err != nil {
		return nil, fmt.Errorf("clinic: S3 backup target: %w", err)
	}
	return t, nil
}

// Close releases everything in reverse order of opening.
func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// signingKeyFile is the ed25519 key (PEM) that signs audit checkpoints,
// ledger checkpoints and disposal certificates: the same file the hipaakit
// CLI uses in a data directory.
const signingKeyFile = "signing-key.pem"

// loadSigningKey reads the data directory's signing key, creating it on
// first start.
func loadSigningKey(dataDir string) (ed25519.PrivateKey, error) {
	k, err := disposal.LoadSigningKey(filepath.Join(dataDir, signingKeyFile), true)
	if err != nil {
		return nil, fmt.Errorf("clinic: signing key: %w", err)
	}
	return k, nil
}

// now is a convenience for code that only needs the time.
func (a *app) now() time.Time { return a.clock.Now() }

// revealAuditInfo names who reveals PHI through the vault (the de-identified
// export): the signed-in user of the request whose context reaches it.
func revealAuditInfo(ctx context.Context) (audit.Actor, audit.Origin) {
	actor, _ := auth.ActorFromContext(ctx)
	return actor, audit.Origin{Channel: audit.ChannelAPI}
}
