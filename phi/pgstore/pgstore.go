package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/internal/pgmigrate"
	"github.com/hipaakit/hipaakit/phi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// component names this package's migrations in hipaakit_migrations.
const component = "phi_keystore"

var (
	// errInvalidRef reports a reference that fails phi.ValidRef.
	errInvalidRef = errors.New("phi/pgstore: invalid key reference")
	// errLimit reports a List call with a non-positive limit.
	errLimit = errors.New("phi/pgstore: list limit must be positive")
)

// Migrate creates or upgrades the phi_keysets table in the pool's current
// schema. It is safe to call from several processes at once and on every
// start.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgmigrate.Run(ctx, pool, "phi/pgstore", component, migrations, "migrations")
}

// Store is a phi.KeyStore in PostgreSQL. It is safe for concurrent use, also
// by processes sharing the database.
type Store struct {
	pool  *pgxpool.Pool
	clock clock.Clock
}

var _ phi.KeyStore = (*Store)(nil)

// Config configures New. The zero value is the default.
type Config struct {
	// Clock stamps Created, Updated and tombstones. nil means clock.System.
	Clock clock.Clock
}

// New returns a Store over pool. Call Migrate first, once per database
// schema.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	return &Store{pool: pool, clock: clock.OrSystem(cfg.Clock)}
}

// now returns the clock's time at the database's microsecond precision.
func (s *Store) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// wrap prefixes err with the operation, keeping context errors matchable.
func wrap(op string, err error) error { return fmt.Errorf("phi/pgstore: %s: %w", op, err) }

func keyIDsToDB(ids []uint32) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

func keyIDsFromDB(ids []int64) ([]uint32, error) {
	out := make([]uint32, len(ids))
	for i, id := range ids {
		if id < 0 || id > 1<<32-1 {
			return nil, errors.New("phi/pgstore: stored key ID out of range")
		}
		out[i] = uint32(id)
	}
	return out, nil
}

const selectColumns = `version, kek_id, ciphertext, key_ids, created_at, updated_at, shredded_at IS NOT NULL`

// scanKeyset reads the columns named in prefix followed by selectColumns
// into k, and reports whether the row is a tombstone.
func scanKeyset(row pgx.Row, k *phi.WrappedKeyset, prefix ...any) (tombstone bool, err error) {
	var ids []int64
	if err := row.Scan(append(prefix, &k.Version, &k.KEKID, &k.Ciphertext, &ids, &k.Created, &k.Updated, &tombstone)...); err != nil {
		return false, err
	}
	if k.KeyIDs, err = keyIDsFromDB(ids); err != nil {
		return false, err
	}
	k.Created, k.Updated = k.Created.UTC(), k.Updated.UTC()
	return tombstone, nil
}

// Get returns the keyset stored under ref.
func (s *Store) Get(ctx context.Context, ref string) (phi.WrappedKeyset, error) {
	if err := ctx.Err(); err != nil {
		return phi.WrappedKeyset{}, err
	}
	if !phi.ValidRef(ref) {
		return phi.WrappedKeyset{}, errInvalidRef
	}
	k := phi.WrappedKeyset{Ref: ref}
	tomb, err := scanKeyset(s.pool.QueryRow(ctx, `SELECT `+selectColumns+` FROM phi_keysets WHERE ref = $1`, ref), &k)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return phi.WrappedKeyset{}, phi.ErrKeyNotFound
	case err != nil:
		return phi.WrappedKeyset{}, wrap("get", err)
	case tomb:
		return phi.WrappedKeyset{}, phi.ErrShredded
	}
	return k, nil
}

// classify explains why a write to ref matched no keyset row: the reference
// is unknown, shredded, or (when a row exists) at another version.
func (s *Store) classify(ctx context.Context, ref string, exists error) error {
	var tomb bool
	err := s.pool.QueryRow(ctx, `SELECT shredded_at IS NOT NULL FROM phi_keysets WHERE ref = $1`, ref).Scan(&tomb)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return phi.ErrKeyNotFound
	case err != nil:
		return wrap("read state", err)
	case tomb:
		return phi.ErrShredded
	}
	return exists
}

// Create stores k under k.Ref with Version 1.
func (s *Store) Create(ctx context.Context, k phi.WrappedKeyset) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !phi.ValidRef(k.Ref) {
		return errInvalidRef
	}
	now := s.now()
	tag, err := s.pool.Exec(ctx, `INSERT INTO phi_keysets (ref, version, kek_id, ciphertext, key_ids, created_at, updated_at)
		VALUES ($1, 1, $2, $3, $4, $5, $5) ON CONFLICT (ref) DO NOTHING`,
		k.Ref, k.KEKID, nonNil(k.Ciphertext), keyIDsToDB(k.KeyIDs), now)
	if err != nil {
		return wrap("create", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Rows are never deleted, so the conflicting row is still there.
	return s.classify(ctx, k.Ref, phi.ErrKeyExists)
}

// nonNil returns b, or an empty slice for nil, so that an empty ciphertext is
// stored as an empty bytea rather than NULL (which marks a tombstone).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Update replaces the keyset under k.Ref if its Version is prevVersion.
func (s *Store) Update(ctx context.Context, k phi.WrappedKeyset, prevVersion int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !phi.ValidRef(k.Ref) {
		return errInvalidRef
	}
	tag, err := s.pool.Exec(ctx, `UPDATE phi_keysets
		SET version = version + 1, kek_id = $3, ciphertext = $4, key_ids = $5, updated_at = $6
		WHERE ref = $1 AND version = $2 AND shredded_at IS NULL`,
		k.Ref, prevVersion, k.KEKID, nonNil(k.Ciphertext), keyIDsToDB(k.KeyIDs), s.now())
	if err != nil {
		return wrap("update", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	return s.classify(ctx, k.Ref, phi.ErrConflict)
}

// Shred turns the row of ref into a tombstone (inserting one if there is no
// row) in one transaction, and returns the key IDs it destroyed.
func (s *Store) Shred(ctx context.Context, ref string) (destroyed []uint32, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !phi.ValidRef(ref) {
		return nil, errInvalidRef
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO phi_keysets (ref, version, kek_id, ciphertext, key_ids, created_at, updated_at, shredded_at)
			VALUES ($1, 0, '', NULL, '{}', $2, $2, $2) ON CONFLICT (ref) DO NOTHING`, ref, now)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var ids []int64
		var tomb bool
		if err := tx.QueryRow(ctx, `SELECT key_ids, shredded_at IS NOT NULL FROM phi_keysets WHERE ref = $1 FOR UPDATE`, ref).Scan(&ids, &tomb); err != nil {
			return err
		}
		if tomb {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE phi_keysets
			SET ciphertext = NULL, kek_id = '', key_ids = '{}', updated_at = $2, shredded_at = $2
			WHERE ref = $1`, ref, now); err != nil {
			return err
		}
		destroyed, err = keyIDsFromDB(ids)
		return err
	})
	if err != nil {
		return nil, wrap("shred", err)
	}
	return destroyed, nil
}

// List returns up to limit keysets with Ref > after, ordered by Ref.
func (s *Store) List(ctx context.Context, after string, limit int) ([]phi.WrappedKeyset, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, errLimit
	}
	rows, err := s.pool.Query(ctx, `SELECT ref, `+selectColumns+` FROM phi_keysets
		WHERE ref > $1 AND shredded_at IS NULL ORDER BY ref LIMIT $2`, after, limit)
	if err != nil {
		return nil, wrap("list", err)
	}
	defer rows.Close()
	var out []phi.WrappedKeyset
	for rows.Next() {
		var k phi.WrappedKeyset
		if _, err := scanKeyset(rows, &k, &k.Ref); err != nil {
			return nil, wrap("list", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list", err)
	}
	return out, nil
}
