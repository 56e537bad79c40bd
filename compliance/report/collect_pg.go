package report

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/compliance/serviceconfig"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
)

// pgStores reads the PostgreSQL stores: keys, audit trail, users and holds
// in the main schema, the disposal ledger in its own (or the same) schema.
// Every session runs with default_transaction_read_only, so no statement
// Collect sends can write.
type pgStores struct {
	cfg          *serviceconfig.Config
	pool, ledgep *pgxpool.Pool
}

func openPGStores(ctx context.Context, cfg *serviceconfig.Config) (stores, error) {
	pool, err := readOnlyPool(ctx, cfg.DatabaseURL, cfg.DatabaseSchema)
	if err != nil {
		return nil, err
	}
	s := &pgStores{cfg: cfg, pool: pool, ledgep: pool}
	if cfg.LedgerSchema != "" && cfg.LedgerSchema != cfg.DatabaseSchema {
		if s.ledgep, err = readOnlyPool(ctx, cfg.DatabaseURL, cfg.LedgerSchema); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// readOnlyPool connects to url with search_path set to schema (when given).
// Errors never include the URL, which may carry a password.
func readOnlyPool(ctx context.Context, url, schema string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("report: database_url does not parse")
	}
	pc.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	if schema != "" {
		pc.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	pc.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, errors.New("report: cannot configure the PostgreSQL pool")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("report: cannot reach PostgreSQL at %s:%d", pc.ConnConfig.Host, pc.ConnConfig.Port)
	}
	return pool, nil
}

func (s *pgStores) kind() string { return "postgresql" }

func (s *pgStores) close() {
	if s.ledgep != s.pool {
		s.ledgep.Close()
	}
	s.pool.Close()
}

func (s *pgStores) keyStore() (phi.KeyStore, error) {
	return pgstore.New(s.pool, pgstore.Config{}), nil
}

func (s *pgStores) auditTrail() (auditTrail, error) { return pgaudit.NewStore(s.pool), nil }

func (s *pgStores) ledger(ctx context.Context) (*disposal.Ledger, error) {
	keys := append(s.cfg.AuditPublicKeys(), s.cfg.LedgerPublicKeys()...)
	return disposal.NewLedger(&pgLedgerReader{st: pgaudit.NewStore(s.ledgep), keys: keys}), nil
}

// users lists the users of every tenant in auth_users (pgauth's table;
// pgauth lists one tenant at a time).
func (s *pgStores) users(ctx context.Context) (userSet, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT tenant_id FROM auth_users`)
	if err != nil {
		return userSet{}, fmt.Errorf("report: list tenants: %w", err)
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return userSet{}, fmt.Errorf("report: list tenants: %w", err)
	}
	slices.Sort(tenants)
	st := pgauth.NewUserStore(s.pool)
	set := userSet{uniqueIDs: true}
	seen := map[string]bool{}
	for _, t := range tenants {
		us, err := st.List(ctx, t)
		if err != nil {
			return userSet{}, err
		}
		for _, u := range us {
			if seen[u.ID] {
				set.uniqueIDs = false
			}
			seen[u.ID] = true
		}
		set.users = append(set.users, us...)
	}
	return set, nil
}

func (s *pgStores) holds(ctx context.Context) ([]retention.Hold, error) {
	return pgretention.NewHoldStore(s.pool).List(ctx)
}

// pgLedgerReader is a read-only disposal.LedgerStore over the ledger
// streams of a pgaudit schema. pgledger.Open claims a stream for writing,
// which would take it from a running service, so Collect reads the streams
// itself, the way pgledger does.
type pgLedgerReader struct {
	st   *pgaudit.Store
	keys []ed25519.PublicKey
}

var _ disposal.LedgerStore = (*pgLedgerReader)(nil)

const ledgerStreamPrefix = disposal.DefaultLedgerStream

func isLedgerStream(s string) bool {
	return s == ledgerStreamPrefix || strings.HasPrefix(s, ledgerStreamPrefix+"-")
}

func (r *pgLedgerReader) Stream() string { return ledgerStreamPrefix }

func (r *pgLedgerReader) Append(context.Context, audit.Event) (audit.Record, error) {
	return audit.Record{}, disposal.ErrReadOnly
}

// Scan verifies every stream of the schema, then yields the records of the
// ledger streams, both in one snapshot of the trail, so that a service
// writing meanwhile is never reported as tampering.
func (r *pgLedgerReader) Scan(ctx context.Context, after uint64, fn func(audit.Record) error) error {
	return r.st.Snapshot(ctx, func(snap *pgaudit.Store) error {
		res, err := snap.Verify(ctx, audit.VerifyOptions{Keys: r.keys})
		if err != nil {
			var ve *audit.VerifyError
			if errors.As(err, &ve) {
				return &disposal.LedgerError{Seq: ve.Seq, Reason: "verification failed: " + string(ve.Problem)}
			}
			return fmt.Errorf("report: verify disposal ledger: %w", err)
		}
		for _, s := range res.Streams {
			if !isLedgerStream(s.Stream) {
				continue
			}
			for rec, err := range snap.Search(ctx, audit.Filter{Stream: s.Stream}) {
				if err != nil {
					return &disposal.LedgerError{Reason: "unreadable entry"}
				}
				if rec.Seq <= after {
					continue
				}
				if err := fn(rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// FindSubject returns the earliest disposal of subject in any ledger stream.
func (r *pgLedgerReader) FindSubject(ctx context.Context, subject string) (audit.Record, bool, error) {
	var found audit.Record
	ok := false
	for rec, err := range r.st.Search(ctx, audit.Filter{Subject: subject, Actions: []audit.Action{audit.ActionShred}}) {
		if err != nil {
			return audit.Record{}, false, fmt.Errorf("report: ledger lookup: %w", err)
		}
		if isLedgerStream(rec.Stream) && (!ok || rec.Event.Time.Before(found.Event.Time)) {
			found, ok = rec, true
		}
	}
	return found, ok, nil
}
