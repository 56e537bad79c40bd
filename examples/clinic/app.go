package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/internal/clock"
	"github.com/hipaakit/hipaakit/internal/fsutil"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
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

	kek      phi.KEK
	keys     phi.KeyStore
	vault    *phi.Vault
	auditLog *audit.FileLog
	records  recordStore
	users    auth.UserStore
	sessions auth.SessionStore
	authn    *auth.Authenticator
	sm       *auth.SessionManager
	guard    *auth.Guard
	holds    *retention.Registry
	ledger   *disposal.Ledger
	shredder *disposal.Shredder
	backups  *backup.Repository
	clinic   *clinic

	closers []func() error
}

var errDataDirLocked = errors.New("clinic: the data directory is in use by another clinic process")

// openApp wires the service on the embedded stores under cfg.DataDir. It
// fails with a clear error for a locked data directory or a wrong key.
func openApp(ctx context.Context, cfg config, clk clock.Clock, logOut io.Writer) (_ *app, err error) {
	a := &app{cfg: cfg, clock: clock.OrSystem(clk), log: slog.New(slog.NewTextHandler(logOut, nil))}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("clinic: create data directory: %w", err)
	}
	lock, err := fsutil.TryLock(filepath.Join(cfg.DataDir, "LOCK"))
	if errors.Is(err, fsutil.ErrLocked) {
		return nil, errDataDirLocked
	}
	if err != nil {
		return nil, fmt.Errorf("clinic: lock data directory: %w", err)
	}
	a.closers = append(a.closers, lock.Unlock)

	if a.signKey, err = loadSigningKey(filepath.Join(cfg.DataDir, "signing.key")); err != nil {
		return nil, err
	}
	if err := a.openKeys(); err != nil {
		return nil, err
	}
	if err := a.openAudit(ctx); err != nil {
		return nil, err
	}
	a.vault, err = phi.NewVault(a.keys, a.kek, phi.WithClock(a.clock), phi.WithAuditWriter(a.auditLog),
		phi.WithBlindIndex("mrn", phi.NormalizeFold))
	if err != nil {
		return nil, err
	}
	if err := a.checkMasterKey(ctx); err != nil {
		return nil, err
	}
	if a.records, err = newFileRecords(a.recordsDir()); err != nil {
		return nil, err
	}
	if err := a.openAuth(); err != nil {
		return nil, err
	}
	if err := a.openDisposal(ctx); err != nil {
		return nil, err
	}
	if err := a.openBackups(ctx); err != nil {
		return nil, err
	}
	a.clinic = &clinic{vault: a.vault, records: a.records, audit: a.auditLog, guard: a.guard,
		now: a.clock.Now, log: a.log, tenant: demoTenant, shredder: a.shredder, holds: a.holds}
	return a, nil
}

func (a *app) openKeys() error {
	var err error
	if a.cfg.MasterKey != "" {
		a.kek, err = localkek.Parse(a.cfg.MasterKey)
	} else {
		a.kek, err = localkek.FromDir(a.cfg.DataDir)
	}
	if err != nil {
		return fmt.Errorf("clinic: master key: %w", err)
	}
	store, err := filestore.Open(filepath.Join(a.cfg.DataDir, "keys"))
	if err != nil {
		return err
	}
	a.keys = store
	return nil
}

// checkMasterKey opens one stored keyset, so that a wrong master key stops
// the start with a clear message instead of failing every request.
func (a *app) checkMasterKey(ctx context.Context) error {
	ks, err := a.keys.List(ctx, "", 1)
	if err != nil || len(ks) == 0 {
		return err
	}
	if ks[0].KEKID != a.kek.ID() {
		return fmt.Errorf("clinic: the master key (%s) is not the one that wrapped the stored keys (%s); "+
			"set HIPAAKIT_MASTER_KEY to the right key or point -data at the matching directory", a.kek.ID(), ks[0].KEKID)
	}
	return nil
}

func (a *app) openAudit(ctx context.Context) error {
	l, err := audit.OpenFileLog(ctx, filepath.Join(a.cfg.DataDir, "audit"), audit.FileOptions{
		Signer: a.signKey, Clock: a.clock, Repair: true,
	})
	if err != nil {
		return fmt.Errorf("clinic: open audit trail: %w", err)
	}
	a.auditLog = l
	a.closers = append(a.closers, l.Close)
	return nil
}

func (a *app) openAuth() error {
	users, err := auth.OpenFileUserStore(filepath.Join(a.cfg.DataDir, "users"))
	if err != nil {
		return fmt.Errorf("clinic: open user store: %w", err)
	}
	a.users = users
	a.closers = append(a.closers, users.Close)
	sessions, err := auth.OpenFileSessionStore(filepath.Join(a.cfg.DataDir, "sessions"))
	if err != nil {
		return fmt.Errorf("clinic: open session store: %w", err)
	}
	a.sessions = sessions
	a.closers = append(a.closers, sessions.Close)
	emergencies, err := auth.OpenFileEmergencyLog(filepath.Join(a.cfg.DataDir, "emergency.log"))
	if err != nil {
		return fmt.Errorf("clinic: open emergency log: %w", err)
	}
	a.closers = append(a.closers, emergencies.Close)

	policy := auth.TenantPolicy{TenantID: demoTenant, RequireMFA: true, IdleTimeout: a.cfg.IdleTimeout, AbsoluteTimeout: a.cfg.Absolute}
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
	a.sm = auth.NewSessionManager(a.sessions, a.users, a.auditLog)
	a.sm.IdleTimeout, a.sm.AbsoluteTimeout = a.cfg.IdleTimeout, a.cfg.Absolute
	a.sm.Clock, a.sm.Policies, a.sm.Emergencies, a.sm.Logger = a.clock, tenants, emergencies, a.log
	if a.cfg.NoTLS {
		a.sm.Cookie.Name, a.sm.Cookie.Secure = "clinic_session", false
	}
	a.authn, err = auth.NewAuthenticator(auth.Config{
		Users: a.users, Audit: a.auditLog, Sessions: a.sm, Sealer: auth.PHISealer(a.vault),
		Tenants: tenants, TOTP: auth.TOTPConfig{Issuer: "hipaakit clinic"}, Clock: a.clock, Logger: a.log,
	})
	if err != nil {
		return err
	}
	a.guard = auth.NewGuard(a.sm, rbac)
	return nil
}

func (a *app) openDisposal(ctx context.Context) error {
	store, err := disposal.OpenFileLedgerStore(ctx, filepath.Join(a.cfg.DataDir, "ledger"),
		disposal.FileLedgerOptions{Signer: a.signKey, Clock: a.clock, Repair: true})
	if err != nil {
		return fmt.Errorf("clinic: open disposal ledger: %w", err)
	}
	a.ledger = disposal.NewLedger(store)
	a.closers = append(a.closers, a.ledger.Close)
	holdStore, err := retention.OpenFileHoldStore(filepath.Join(a.cfg.DataDir, "holds"))
	if err != nil {
		return fmt.Errorf("clinic: open legal holds: %w", err)
	}
	a.holds = retention.NewRegistry(holdStore, a.auditLog, a.clock)
	// A restored key store must never bring back a shredded patient: replay
	// the ledger at every start, before any request can open a key.
	if _, err := a.ledger.Replay(ctx, a.keys); err != nil {
		return fmt.Errorf("clinic: replay disposal ledger: %w", err)
	}
	a.shredder, err = disposal.New(disposal.Config{Vault: a.vault, Keys: a.keys, Ledger: a.ledger, Audit: a.auditLog,
		Holds: a.holds, SigningKey: a.signKey, Clock: a.clock})
	return err
}

func (a *app) recordsDir() string { return filepath.Join(a.cfg.DataDir, "records") }

// scratchDir is where restore drills restore to (removed after each drill).
func (a *app) scratchDir() string { return filepath.Join(a.cfg.DataDir, "scratch") }

func (a *app) openBackups(ctx context.Context) error {
	target, err := backup.NewDirTarget(filepath.Join(a.cfg.DataDir, "backups"))
	if err != nil {
		return fmt.Errorf("clinic: open backup directory: %w", err)
	}
	if err := os.MkdirAll(a.scratchDir(), 0o700); err != nil {
		return fmt.Errorf("clinic: scratch directory: %w", err)
	}
	opts := []backup.Option{backup.WithAudit(a.auditLog, audit.Actor{UserID: "system:backup"}),
		backup.WithClock(a.clock), backup.WithLegalHolds(backup.HoldsFunc(a.backupHeld))}
	a.backups, err = backup.Open(ctx, target, a.kek, opts...)
	if errors.Is(err, backup.ErrNotFound) {
		a.backups, err = backup.Init(ctx, target, a.kek, opts...)
	}
	if err != nil {
		return fmt.Errorf("clinic: open backup repository: %w", err)
	}
	return nil
}

// backupHeld keeps every backup while any legal hold is active: each backup
// holds every patient's sealed data, so pruning one could destroy held data.
func (a *app) backupHeld(ctx context.Context, _ backup.Info) (bool, string, error) {
	hs, err := a.holds.Active(ctx)
	if err != nil || len(hs) == 0 {
		return false, "", err
	}
	return true, hs[0].ID, nil
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

// loadSigningKey reads the ed25519 key that signs audit checkpoints, ledger
// checkpoints and disposal certificates, creating it on first start.
func loadSigningKey(path string) (ed25519.PrivateKey, error) {
	seed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		if err := fsutil.WriteFileAtomic(path, priv.Seed(), 0o600); err != nil {
			return nil, fmt.Errorf("clinic: write signing key: %w", err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clinic: read signing key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("clinic: the signing key file is damaged")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// now is a convenience for code that only needs the time.
func (a *app) now() time.Time { return a.clock.Now() }
