package pgledger

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/signing"
)

// ErrReadOnly reports an Append on a read-only Store (OpenReadOnly).
var ErrReadOnly = errors.New("pgledger: the ledger was opened read-only")

// ReadOnly is a disposal.LedgerStore that reads, scans and verifies every
// ledger stream of the pool's schema without claiming any: what read-only
// tools (verification, restore drills, reports) use beside a running
// service, whose streams they must never take. Append fails with
// ErrReadOnly.
type ReadOnly struct{ s *Store }

// OpenReadOnly opens the ledger of the pool's schema for reading. keys are
// the trusted checkpoint keys (required: every writer's key).
func OpenReadOnly(pool *pgxpool.Pool, keys signing.KeySet) (*ReadOnly, error) {
	if keys.Len() == 0 {
		return nil, errors.New("pgledger: OpenReadOnly needs the trusted checkpoint keys")
	}
	return &ReadOnly{s: &Store{pool: pool, reader: pgaudit.NewStore(pool), keys: keys, stream: StreamPrefix}}, nil
}

// Stream implements disposal.LedgerStore (no stream is written).
func (r *ReadOnly) Stream() string { return r.s.stream }

// Append implements disposal.LedgerStore: it always fails with ErrReadOnly.
func (r *ReadOnly) Append(context.Context, audit.Event) (audit.Record, error) {
	return audit.Record{}, ErrReadOnly
}

// Scan implements disposal.LedgerStore (see Store.Scan).
func (r *ReadOnly) Scan(ctx context.Context, after uint64, fn func(audit.Record) error) error {
	return r.s.Scan(ctx, after, fn)
}

// FindSubject implements disposal.LedgerStore (see Store.FindSubject).
func (r *ReadOnly) FindSubject(ctx context.Context, subject string) (audit.Record, bool, error) {
	return r.s.FindSubject(ctx, subject)
}
