package main

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	authfile "github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/retention"
)

// Layout of the embedded stores under the data directory (the names
// serviceconfig.Config expects for data_dir).
const (
	dirKeys      = "keys"
	dirAudit     = "audit"
	dirRecords   = "records"
	dirUsers     = "users"
	dirSessions  = "sessions"
	dirAttempts  = "attempts"
	dirLedger    = "ledger"
	dirHolds     = "holds"
	dirBackups   = "backups"
	fileEmergLog = "emergency.log"
)

func (a *app) dataPath(name string) string { return filepath.Join(a.cfg.DataDir, name) }

// openFileStores opens the embedded default: every store a file-backed one
// under the data directory, nothing installed.
func (a *app) openFileStores(ctx context.Context) error {
	keys, err := filestore.Open(a.dataPath(dirKeys))
	if err != nil {
		return fmt.Errorf("clinic: open key store: %w", err)
	}
	a.keys = keys
	if err := a.openFileAudit(ctx); err != nil {
		return err
	}
	if a.records, err = newFileRecords(a.dataPath(dirRecords)); err != nil {
		return err
	}
	users, err := authfile.OpenUserStore(a.dataPath(dirUsers))
	if err != nil {
		return fmt.Errorf("clinic: open user store: %w", err)
	}
	a.users = users
	a.closers = append(a.closers, users.Close)
	sessions, err := authfile.OpenSessionStore(a.dataPath(dirSessions))
	if err != nil {
		return fmt.Errorf("clinic: open session store: %w", err)
	}
	a.sessions = sessions
	a.closers = append(a.closers, sessions.Close)
	// The client-key and unknown-name throttles survive a restart: a
	// restart must not hand an attacker a fresh budget of guesses.
	attempts, err := authfile.OpenAttemptStore(a.dataPath(dirAttempts))
	if err != nil {
		return fmt.Errorf("clinic: open login-attempt store: %w", err)
	}
	a.attempts = attempts
	a.purgeAttempts = func(_ context.Context, cutoff time.Time) error { _, err := attempts.Purge(cutoff); return err }
	a.closers = append(a.closers, attempts.Close)
	emergencies, err := authfile.OpenEmergencyLog(a.dataPath(fileEmergLog))
	if err != nil {
		return fmt.Errorf("clinic: open emergency log: %w", err)
	}
	a.emergencies = emergencies
	a.closers = append(a.closers, emergencies.Close)
	ledger, err := disposal.OpenFileLedgerStore(ctx, a.dataPath(dirLedger),
		disposal.FileLedgerOptions{Signer: a.signKey, Clock: a.clock, Repair: true})
	if err != nil {
		return fmt.Errorf("clinic: open disposal ledger: %w", err)
	}
	a.ledgerStore = ledger
	a.closers = append(a.closers, ledger.Close)
	if a.holdStore, err = retention.OpenFileHoldStore(a.dataPath(dirHolds)); err != nil {
		return fmt.Errorf("clinic: open legal holds: %w", err)
	}
	// A backup covers the sealed records, the key store and the audit
	// trail; each kind has the backup package's default drill.
	a.backupSources = []backup.Source{
		backup.DirSource{Root: a.dataPath(dirRecords), Kind: "dir", Name: "records"},
		backup.KeyStoreSource{Store: a.keys, Name: "keys"},
		backup.AuditSource(a.dataPath(dirAudit)),
	}
	a.drills = []drill{{kind: "dir"}, {kind: "keystore"}, {kind: "audit"}}
	return nil
}

// openFileAudit opens the audit file log, repairing a torn tail left by a
// crash (acknowledged events are never lost).
func (a *app) openFileAudit(ctx context.Context) error {
	l, err := audit.OpenFileLog(ctx, a.dataPath(dirAudit), audit.FileOptions{
		Signer: a.signKey, Clock: a.clock, Repair: true,
	})
	if err != nil {
		return fmt.Errorf("clinic: open audit trail: %w", err)
	}
	rd := l.Reader()
	a.auditLog = fileTrail{FileLog: l,
		Searcher: audit.ScanSearcher(func(ctx context.Context) iter.Seq2[audit.Record, error] { return rd.Records(ctx, 0) })}
	a.closers = append(a.closers, l.Close)
	return nil
}

// fileTrail is the audit file log with search (a scan) and verification.
type fileTrail struct {
	*audit.FileLog
	audit.Searcher
}

func (t fileTrail) Verify(ctx context.Context, opts audit.VerifyOptions) (audit.Result, error) {
	return t.Reader().Verify(ctx, opts)
}
