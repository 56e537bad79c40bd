package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/retention/pgretention"
)

const (
	// pgConnectTimeout bounds each connection attempt when the URL sets no
	// connect_timeout, so an unreachable server fails the start quickly.
	pgConnectTimeout = 5 * time.Second
	// pgAuditStream is the clinic's audit stream: one clinic instance per
	// database schema (a second one would take the stream over, and the
	// first would fail loudly with pgaudit.ErrStreamConflict).
	pgAuditStream = "clinic"
	// ledgerSchemaSuffix names the disposal ledger's own schema, beside the
	// main one: the ledger must survive any purge of the audit trail, and
	// its scans verify only the ledger.
	ledgerSchemaSuffix = "_ledger"
)

// pgState is what PostgreSQL mode keeps beyond the stores: the schemas, for
// the service configuration file.
type pgState struct {
	schema, ledgerSchema string
}

// openPGStores switches every store to PostgreSQL: keys (phi/pgstore), the
// audit trail (audit/pgaudit), users, sessions, the emergency log and the
// login-attempt counts (auth/pgauth), legal holds (retention/pgretention),
// the records, and the disposal ledger (disposal/pgledger, in a schema of its own). The master
// key and the signing key stay in the data directory.
func (a *app) openPGStores(ctx context.Context) error {
	pcfg, err := pgxpool.ParseConfig(a.cfg.DatabaseURL)
	if err != nil {
		return errBadDatabaseURL
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	pool, err := a.openPool(ctx, pcfg)
	if err != nil {
		return err
	}
	var schema *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("clinic: PostgreSQL: %w", err)
	}
	if schema == nil {
		return errors.New("clinic: PostgreSQL: the search_path names no existing schema")
	}
	a.pg = &pgState{schema: *schema, ledgerSchema: *schema + ledgerSchemaSuffix}
	for _, m := range []func(context.Context, *pgxpool.Pool) error{
		pgstore.Migrate, pgaudit.Migrate, pgauth.MigrateUsers, pgauth.MigrateSessions, pgretention.Migrate,
	} {
		if err := m(ctx, pool); err != nil {
			return fmt.Errorf("clinic: PostgreSQL migration: %w", err)
		}
	}
	a.keys = pgstore.New(pool, pgstore.Config{Clock: a.clock})
	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: pgAuditStream, Signer: a.signKey, Clock: a.clock})
	if err != nil {
		return fmt.Errorf("clinic: open audit trail: %w", err)
	}
	a.auditLog = pgTrail{Writer: w, Store: pgaudit.NewStore(pool)}
	a.closers = append(a.closers, func() error { return closeWithTimeout(w.Close) })
	if a.records, err = newPGRecords(ctx, pool); err != nil {
		return err
	}
	a.users = pgauth.NewUserStore(pool)
	a.sessions = pgauth.NewSessionStore(pool)
	// auth_attempts (MigrateUsers): the client-key and unknown-name
	// throttles are deployment-wide and survive restarts.
	attempts := pgauth.NewAttemptStore(pool)
	a.attempts = attempts
	a.purgeAttempts = func(ctx context.Context, cutoff time.Time) error {
		_, err := attempts.PurgeAttempts(ctx, cutoff)
		return err
	}
	a.emergencies = pgauth.NewEmergencyLog(pool)
	a.holdStore = pgretention.NewHoldStore(pool)
	if err := a.openPGLedger(ctx, pool, pcfg); err != nil {
		return err
	}
	// A backup covers the records table and the key store (restored through
	// the disposal ledger). The audit trail and the ledger are append-only
	// tables protected by the database's own backups (base backups and WAL
	// archiving); pgsource does not copy partitioned tables.
	a.backupSources = []backup.Source{
		pgsource.Source{Pool: pool, Schema: *schema, Tables: []string{recordsTable}},
		backup.KeyStoreSource{Store: a.keys, Name: "keys"},
	}
	a.drills = []drill{
		{kind: "postgres", sink: func() backup.Sink { return pgsource.NewScratchSink(pool) }},
		{kind: "keystore"},
	}
	return nil
}

// openPGLedger opens the disposal ledger in its own schema, created on first
// start.
func (a *app) openPGLedger(ctx context.Context, main *pgxpool.Pool, pcfg *pgxpool.Config) error {
	if _, err := main.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{a.pg.ledgerSchema}.Sanitize()); err != nil {
		return fmt.Errorf("clinic: create the disposal ledger's schema: %w", err)
	}
	pool, err := a.poolFor(ctx, pcfg, a.pg.ledgerSchema)
	if err != nil {
		return err
	}
	if err := pgledger.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("clinic: PostgreSQL migration: %w", err)
	}
	store, err := pgledger.Open(ctx, pool, pgledger.Options{Signer: a.signKey, Clock: a.clock, Keys: a.auditKeys()})
	if err != nil {
		return fmt.Errorf("clinic: open disposal ledger: %w", err)
	}
	a.ledgerStore = store
	a.closers = append(a.closers, store.Close)
	return nil
}

// poolFor returns a pool like pcfg's whose connections use only schema.
func (a *app) poolFor(ctx context.Context, pcfg *pgxpool.Config, schema string) (*pgxpool.Pool, error) {
	c := pcfg.Copy()
	c.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	return a.openPool(ctx, c)
}

// openPool connects (so that an unreachable server fails the start with a
// one-line message naming it) and closes the pool with the app.
func (a *app) openPool(ctx context.Context, pcfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, errBadDatabaseURL
	}
	a.closers = append(a.closers, func() error { pool.Close(); return nil })
	pctx, cancel := context.WithTimeout(ctx, 2*pcfg.ConnConfig.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		return nil, unreachable(pcfg.ConnConfig, err)
	}
	return pool, nil
}

var errBadDatabaseURL = errors.New("clinic: -database-url (DATABASE_URL) is not a valid PostgreSQL URL")

// errDatabaseUnreachable marks a failed connection to PostgreSQL.
var errDatabaseUnreachable = errors.New("clinic: cannot reach PostgreSQL")

// unreachable says which server could not be reached and why, in one line
// that never holds the password.
func unreachable(c *pgx.ConnConfig, err error) error {
	where := c.Host
	if !strings.HasPrefix(where, "/") {
		where = net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
	}
	why := "connection failed"
	var pgErr *pgconn.PgError
	var opErr *net.OpError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		why = pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		why = "timed out"
	case errors.As(err, &opErr):
		why = opErr.Err.Error()
	default:
		why = lastCause(err)
	}
	return fmt.Errorf("%w at %s: %s", errDatabaseUnreachable, where, why)
}

// lastCause returns the message of the last attempt in a pgconn connect
// error ("host:port (ip): reason": the reason), which pgx writes without the
// password; else a generic phrase.
func lastCause(err error) string {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return "connection failed"
	}
	var causes []error
	if j, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
		causes = j.Unwrap()
	} else if e := ce.Unwrap(); e != nil {
		causes = []error{e}
	}
	if len(causes) == 0 {
		return "connection failed"
	}
	msg := causes[len(causes)-1].Error()
	if _, rest, ok := strings.Cut(msg, "): "); ok {
		msg = rest
	}
	return strings.Join(strings.Fields(msg), " ")
}

// pgTrail is the PostgreSQL audit trail: pgaudit's writer for appending, its
// store for search and verification.
type pgTrail struct {
	*pgaudit.Writer
	*pgaudit.Store
}

// closeWithTimeout runs a Close that takes a context, bounded.
func closeWithTimeout(close func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return close(ctx)
}

var (
	_ auditTrail = pgTrail{}
	_ auditTrail = fileTrail{}
)

// auditKeys returns the trusted checkpoint keys of the clinic's audit trail
// and disposal ledger (one signing key signs both).
func (a *app) auditKeys() []ed25519.PublicKey {
	return []ed25519.PublicKey{a.signKey.PublicKey()}
}
