package hipaakit

import (
	"context"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	authfile "github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/retention"
)

// openFileKeys opens the embedded key store (what the start-up checks
// read).
func (d *Deployment) openFileKeys() error {
	keys, err := filestore.Open(d.path(DirKeys), filestore.Config{Clock: d.Clock})
	if err != nil {
		return fmt.Errorf("hipaakit: open the key store: %w", err)
	}
	d.Keys = keys
	return nil
}

// openFileStores opens the rest of the embedded default: every store a
// file-backed one under the data directory (Layout), nothing installed.
func (d *Deployment) openFileStores(ctx context.Context) error {
	for _, open := range []func() error{
		func() error { return d.openFileAudit(ctx) }, d.openFileAuth, func() error { return d.openFileLedger(ctx) },
		d.openFileHolds, d.openFileIncidents,
	} {
		if err := open(); err != nil {
			return err
		}
	}
	// A backup covers the whole deployment (backupset.go).
	d.setBackupSources()
	return nil
}

// openFileAudit opens the audit file log under DirAudit. It repairs a torn
// tail left by a crash (acknowledged events are never lost).
func (d *Deployment) openFileAudit(ctx context.Context) error {
	l, err := audit.OpenFileLog(ctx, d.path(DirAudit), audit.FileOptions{Signer: d.signKey,
		PreviousKeys: d.cfg.Signing.Trusted, Clock: d.Clock, Repair: true, CheckpointSink: d.checkpointSink()})
	if err != nil {
		return fmt.Errorf("hipaakit: open the audit trail: %w", err)
	}
	d.Audit = audit.NewFileTrail(l)
	d.auditEntries = l.Reader().Entries
	d.closers = append(d.closers, l.Close)
	return nil
}

// openFileAuth opens the user and session stores, the login-attempt
// counts and the emergency log.
func (d *Deployment) openFileAuth() error {
	users, err := authfile.OpenUserStore(d.path(DirUsers))
	if err != nil {
		return fmt.Errorf("hipaakit: open the user store: %w", err)
	}
	d.Users = users
	d.closers = append(d.closers, users.Close)
	sessions, err := authfile.OpenSessionStore(d.path(DirSessions))
	if err != nil {
		return fmt.Errorf("hipaakit: open the session store: %w", err)
	}
	d.Sessions = sessions
	d.closers = append(d.closers, sessions.Close)
	// The client-key and unknown-name throttles survive a restart: a
	// restart must not hand an attacker a fresh budget of guesses.
	attempts, err := authfile.OpenAttemptStore(d.path(DirAttempts))
	if err != nil {
		return fmt.Errorf("hipaakit: open the login-attempt store: %w", err)
	}
	d.attempts = attempts
	d.purgeAttempts = func(_ context.Context, cutoff time.Time) error { _, err := attempts.Purge(cutoff); return err }
	d.closers = append(d.closers, attempts.Close)
	emergencies, err := authfile.OpenEmergencyLog(d.path(FileEmergency))
	if err != nil {
		return fmt.Errorf("hipaakit: open the emergency log: %w", err)
	}
	d.Emergencies = emergencies
	d.closers = append(d.closers, emergencies.Close)
	return nil
}

// openFileLedger opens the disposal file ledger under DirLedger for
// appending.
func (d *Deployment) openFileLedger(ctx context.Context) error {
	ledger, err := disposal.OpenFileLedgerStore(ctx, d.path(DirLedger),
		disposal.FileLedgerOptions{Signer: d.signKey, Keys: d.TrustedKeys(), Clock: d.Clock, Repair: true})
	if err != nil {
		return fmt.Errorf("hipaakit: open the disposal ledger: %w", err)
	}
	d.ledgerStore = ledger
	d.closers = append(d.closers, ledger.Close)
	return nil
}

// openFileHolds opens the legal-hold file store under DirHolds.
func (d *Deployment) openFileHolds() (err error) {
	if d.holdStore, err = retention.OpenFileHoldStore(d.path(DirHolds)); err != nil {
		return fmt.Errorf("hipaakit: open the legal holds: %w", err)
	}
	return nil
}

// openFileIncidents opens the breach incident file store under DirBreach.
func (d *Deployment) openFileIncidents() error {
	incidents, err := breach.OpenFileStore(d.path(DirBreach), breach.FileConfig{})
	if err != nil {
		return fmt.Errorf("hipaakit: open the breach incident store: %w", err)
	}
	d.Incidents = incidents
	d.closers = append(d.closers, incidents.Close)
	return nil
}
