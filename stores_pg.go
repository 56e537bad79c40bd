package hipaakit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/breach/pgbreach"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/retention/pgretention"
)

const (
	// pgConnectTimeout bounds each connection attempt when the URL sets no
	// connect_timeout, so an unreachable server fails the start quickly.
	pgConnectTimeout = 5 * time.Second
	// defaultAuditStream is Config.AuditStream's default.
	defaultAuditStream = "hipaakit"
)

// LedgerSchemaSuffix names the disposal ledger's own schema, beside the
// main one: the ledger must survive any purge of the audit trail, and its
// scans verify only the ledger.
const LedgerSchemaSuffix = "_ledger"

// openPGBase connects, runs every store's migrations and opens the key
// store and the disposal ledger's pool: what the start-up checks read,
// without writing anything but the schemas.
func (d *Deployment) openPGBase(ctx context.Context) error {
	pcfg, err := pgxpool.ParseConfig(d.cfg.DatabaseURL)
	if err != nil {
		return ErrBadDatabaseURL
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	pool, err := d.openPool(ctx, pcfg)
	if err != nil {
		return err
	}
	d.DB = pool
	var schema *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("hipaakit: PostgreSQL: %w", err)
	}
	if schema == nil {
		return ErrNoSchema
	}
	d.Schema, d.LedgerSchema = *schema, cmp.Or(d.cfg.LedgerSchema, *schema+LedgerSchemaSuffix)
	for _, m := range []func(context.Context, *pgxpool.Pool) error{
		pgstore.Migrate, pgaudit.Migrate, pgauth.MigrateUsers, pgauth.MigrateSessions, pgretention.Migrate, pgbreach.Migrate, migrate,
	} {
		if err := m(ctx, pool); err != nil {
			return fmt.Errorf("hipaakit: PostgreSQL migration: %w", err)
		}
	}
	d.Keys = pgstore.New(pool, pgstore.Config{Clock: d.Clock})
	// Under an advisory lock of the name: replicas starting together on an
	// empty database would otherwise race in CREATE SCHEMA IF NOT EXISTS
	// (a unique violation in pg_namespace).
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('hipaakit/create-schema/' || $1, 0))", d.LedgerSchema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{d.LedgerSchema}.Sanitize())
		return err
	}); err != nil {
		return fmt.Errorf("hipaakit: create the disposal ledger's schema: %w", err)
	}
	c := pcfg.Copy()
	c.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{d.LedgerSchema}.Sanitize()
	if d.ledgerPool, err = d.openPool(ctx, c); err != nil {
		return err
	}
	if err := pgledger.Migrate(ctx, d.ledgerPool); err != nil {
		return fmt.Errorf("hipaakit: PostgreSQL migration: %w", err)
	}
	ttl := d.cfg.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	d.leases = newLeases(pool, d.InstanceID, ttl, d.Clock.Now)
	return nil
}

// AuditStream is this process's audit stream on PostgreSQL:
// Config.AuditStream (default "hipaakit"), "-", the instance ID.
func (d *Deployment) AuditStream() string {
	return cmp.Or(d.cfg.AuditStream, defaultAuditStream) + "-" + d.InstanceID
}

// LedgerStream is this process's disposal-ledger stream on PostgreSQL:
// "disposal-" and the instance ID.
func (d *Deployment) LedgerStream() string { return pgledger.StreamPrefix + "-" + d.InstanceID }

// openPGStores opens the writers and every other store in PostgreSQL, once
// the start-up checks have passed: it takes the stream leases, then the
// audit trail (audit/pgaudit) and the disposal ledger (disposal/pgledger,
// in a schema of its own) claim their streams; users, sessions, the
// emergency log and the login-attempt counts (auth/pgauth) and legal holds
// (retention/pgretention) need no claim.
func (d *Deployment) openPGStores(ctx context.Context) error {
	// Released after the writers sealed their streams (closers run in
	// reverse).
	d.closers = append(d.closers, d.leases.release)
	for _, stream := range []string{d.AuditStream(), d.LedgerStream()} {
		if err := d.leases.acquire(ctx, stream); err != nil {
			return err
		}
	}
	if err := d.openPGAudit(ctx); err != nil {
		return err
	}
	if err := d.openPGLedger(ctx, true); err != nil {
		return err
	}
	if err := d.openS3LedgerMirror(ctx); err != nil {
		return err
	}
	d.startHeartbeat()
	if err := d.openPGOthers(); err != nil {
		return err
	}
	// A backup covers the whole deployment, its tables in one snapshot
	// (backupset.go).
	d.setBackupSources()
	return nil
}

// openPGAudit opens this process's audit writer on its stream
// (AuditStream), which it claims.
func (d *Deployment) openPGAudit(ctx context.Context) error {
	w, err := pgaudit.Open(ctx, d.DB, pgaudit.Options{Stream: d.AuditStream(), Signer: d.signKey, Clock: d.Clock,
		CheckpointSink: d.checkpointSink()})
	if err != nil {
		return fmt.Errorf("hipaakit: open the audit trail: %w", err)
	}
	d.Audit = pgaudit.NewTrail(w, pgaudit.NewStore(d.DB))
	d.auditEntries = pgaudit.NewStore(d.DB).Entries
	d.closers = append(d.closers, func() error { return closeWithTimeout(w.Close) })
	return nil
}

// openPGLedger opens this process's disposal-ledger writer on its stream
// (LedgerStream), which it claims, and the mirror outside the database
// (DirLedgerMirror, see disposal.NewMirroredLedger). A mirror another
// process holds is an error when mirrorRequired is set, and otherwise
// leaves the ledger unmirrored (d.ledgerMirror nil, d.mirrorHeld set).
func (d *Deployment) openPGLedger(ctx context.Context, mirrorRequired bool) error {
	store, err := pgledger.Open(ctx, d.ledgerPool, pgledger.Options{Stream: d.LedgerStream(), Signer: d.signKey,
		Clock: d.Clock, Keys: d.TrustedKeys()})
	if err != nil {
		return fmt.Errorf("hipaakit: open the disposal ledger: %w", err)
	}
	d.ledgerStore = store
	d.closers = append(d.closers, store.Close)
	if d.cfg.DataDir == "" {
		return nil
	}
	mirror, err := disposal.OpenFileLedgerStore(ctx, d.path(DirLedgerMirror),
		disposal.FileLedgerOptions{Signer: d.signKey, Keys: d.TrustedKeys(), Clock: d.Clock, Repair: true})
	if errors.Is(err, durable.ErrLocked) && !mirrorRequired {
		d.mirrorHeld = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("hipaakit: open the disposal ledger's mirror: %w", err)
	}
	d.ledgerMirror = mirror
	d.closers = append(d.closers, mirror.Close)
	return nil
}

// openPGOthers sets the stores that need no stream: users, sessions, the
// emergency log and the login-attempt counts (auth/pgauth), legal holds
// (retention/pgretention) and breach incidents (breach/pgbreach).
func (d *Deployment) openPGOthers() error {
	pool := d.DB
	d.Users = pgauth.NewUserStore(pool)
	d.Sessions = pgauth.NewSessionStore(pool)
	// auth_attempts (MigrateUsers): the client-key and unknown-name
	// throttles are deployment-wide and survive restarts.
	attempts := pgauth.NewAttemptStore(pool)
	d.attempts = attempts
	d.purgeAttempts = func(ctx context.Context, cutoff time.Time) error {
		_, err := attempts.PurgeAttempts(ctx, cutoff)
		return err
	}
	d.Emergencies = pgauth.NewEmergencyLog(pool)
	d.holdStore = pgretention.NewHoldStore(pool)
	var err error
	if d.Incidents, err = pgbreach.New(pool, pgbreach.Config{}); err != nil {
		return fmt.Errorf("hipaakit: open the breach incident store: %w", err)
	}
	return nil
}

// openPool connects (so that an unreachable server fails the start with a
// one-line message naming it) and closes the pool with the deployment.
func (d *Deployment) openPool(ctx context.Context, pcfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, ErrBadDatabaseURL
	}
	d.closers = append(d.closers, func() error { pool.Close(); return nil })
	pctx, cancel := context.WithTimeout(ctx, 2*pcfg.ConnConfig.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		return nil, unreachable(pcfg.ConnConfig, err)
	}
	return pool, nil
}

// closeWithTimeout runs a Close that takes a context, bounded.
func closeWithTimeout(close func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return close(ctx)
}
