package hipaakit

// The deployment's login-challenge key. auth signs its stateless login
// challenges (the second-factor challenge after the password step, the
// passkey ceremonies) with auth.Config.ChallengeKey; every replica must
// hold the same key, or a login begun on one replica cannot be finished on
// another. Open gives the auth service one key per deployment:
//
//   - Config.Auth.ChallengeKey when it is set (at least 32 bytes);
//   - else the stored key: 32 random bytes drawn by the first start,
//     wrapped by the deployment's KEK (local master key or AWS KMS, with
//     the associated data challengeKeyAD) and kept in the PostgreSQL schema
//     (table hipaakit_challenge_keys, one row, created race-free: INSERT
//     ... ON CONFLICT DO NOTHING, then read back, so replicas starting
//     together all use the row that won) or, on the embedded stores, in the
//     data directory (FileChallengeKey, written atomically under the
//     directory's lock).
//
// The stored key is read and unwrapped among the start-up checks: a KEK
// that cannot open it stops the start with a *ChallengeKeyError before
// anything is written. A missing key is created only after every check has
// passed. The plaintext key lives only in memory; it is never logged,
// printed or stored. `hipaakit kek migrate` re-wraps it
// (RewrapChallengeKey).
//
// The key is not part of the backups: a challenge lives for minutes, so a
// deployment restored without it (a new data directory, a new schema)
// draws a new key at its first start, which merely invalidates the
// challenges in flight at that moment.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
)

const (
	// challengeKeyVersion is the version of the stored form (the row's and
	// the file's "version"); challengeKeyAD is the associated data of the
	// KEK wrap, which binds the wrapped bytes to their purpose.
	challengeKeyVersion = 1
	challengeKeyAD      = "hipaakit/challenge-key/v1"
	challengeKeySize    = 32
	// challengeKeyName is the row's name: one login-challenge key per
	// deployment.
	challengeKeyName  = "login"
	challengeKeyTable = "hipaakit_challenge_keys"
	// MinChallengeKeySize is the least length of AuthConfig.ChallengeKey.
	MinChallengeKeySize = 32
)

// ErrChallengeKey reports a stored login-challenge key that this start
// cannot open (another KEK wrapped it, it is damaged, or the KMS did not
// answer). The *ChallengeKeyError that carries it names the object;
// errors.Is(err, ErrWrongKEK) holds too when another KEK wrapped it.
var ErrChallengeKey = errors.New("hipaakit: the stored login-challenge key cannot be opened")

// ChallengeKeyError is a stored login-challenge key that cannot be opened.
// It never holds key material.
type ChallengeKeyError struct {
	// Object names where the key is stored: "table hipaakit_challenge_keys"
	// or "file " + FileChallengeKey (inside the data directory).
	Object string
	// StoredKEK is the ID of the KEK that wrapped the stored key and KEK
	// the ID of the KEK this start has ("" when unknown).
	StoredKEK, KEK string
	// Problem says what is wrong.
	Problem string
	// Cause is the underlying error (the KEK's, or the decoding's).
	Cause error
}

// wrongKEK reports a key that another KEK wrapped.
func (e *ChallengeKeyError) wrongKEK() bool {
	return e.StoredKEK != "" && e.KEK != "" && e.StoredKEK != e.KEK
}

func (e *ChallengeKeyError) Error() string {
	msg := fmt.Sprintf("hipaakit: login-challenge key (%s): %s", e.Object, e.Problem)
	if e.StoredKEK != "" || e.KEK != "" {
		msg += fmt.Sprintf(" (wrapped by %s, this start's key-encryption key is %s)", e.StoredKEK, e.KEK)
	}
	if e.wrongKEK() {
		msg += "; open with the deployment's key-encryption key, or re-wrap it with `hipaakit kek migrate`"
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrChallengeKey) hold, and ErrWrongKEK when
// another KEK wrapped the key.
func (e *ChallengeKeyError) Is(target error) bool {
	return target == ErrChallengeKey || (e.wrongKEK() && target == ErrWrongKEK)
}

// Unwrap returns the cause.
func (e *ChallengeKeyError) Unwrap() error { return e.Cause }

// storedChallengeKey is the stored form: the row of hipaakit_challenge_keys
// and the JSON of FileChallengeKey.
type storedChallengeKey struct {
	Version   int       `json:"version"`
	KEKID     string    `json:"kek_id"`
	Wrapped   []byte    `json:"wrapped"`
	CreatedAt time.Time `json:"created_at"`
}

// challengeKeyStore is where a deployment's challenge key is kept.
type challengeKeyStore interface {
	// object names the store for errors.
	object() string
	// load returns the stored key, or nil when there is none.
	load(ctx context.Context) (*storedChallengeKey, error)
	// create stores s unless a key is stored already (then it does
	// nothing).
	create(ctx context.Context, s storedChallengeKey) error
	// replace stores s in place of the key wrapped by oldKEK; false when
	// the stored key is no longer that one.
	replace(ctx context.Context, oldKEK string, s storedChallengeKey) (bool, error)
}

// challengeKeys returns the store of db (the main schema's pool) or, when
// db is nil, of the embedded data directory dataDir.
func challengeKeys(db *pgxpool.Pool, dataDir string) challengeKeyStore {
	if db != nil {
		return pgChallengeKeys{db}
	}
	return fileChallengeKeys{dataDir}
}

// loadChallengeKey is the start-up check of the stored challenge key: it
// reads and unwraps it (a refused start removes a master key file it
// created). With Config.Auth.ChallengeKey set the stored key is not used.
func (d *Deployment) loadChallengeKey(ctx context.Context) error {
	if key := d.cfg.Auth.ChallengeKey; len(key) > 0 {
		d.challengeKey = key
		return nil
	}
	st := challengeKeys(d.DB, d.cfg.DataDir)
	key, err := openChallengeKey(ctx, st, d.KEK)
	if err != nil {
		if rerr := d.removeCreatedKEK(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	d.challengeKey = key
	return nil
}

// createChallengeKey creates the deployment's challenge key when none is
// stored (after the start-up checks): a new random key wrapped by the KEK,
// stored unless another replica stored one first, then read back, so that
// every replica uses the key that won.
func (d *Deployment) createChallengeKey(ctx context.Context) error {
	if d.challengeKey != nil {
		return nil
	}
	st := challengeKeys(d.DB, d.cfg.DataDir)
	key := make([]byte, challengeKeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	defer clear(key)
	wrapped, err := d.KEK.Wrap(ctx, key, []byte(challengeKeyAD))
	if err != nil {
		return fmt.Errorf("hipaakit: wrap the new login-challenge key (%s): %w", st.object(), err)
	}
	if err := st.create(ctx, storedChallengeKey{Version: challengeKeyVersion, KEKID: d.KEK.ID(), Wrapped: wrapped,
		CreatedAt: d.Clock.Now().UTC()}); err != nil {
		return fmt.Errorf("hipaakit: store the login-challenge key (%s): %w", st.object(), durable.WithoutPath(err))
	}
	if d.challengeKey, err = openChallengeKey(ctx, st, d.KEK); err != nil {
		return err
	}
	if d.challengeKey == nil {
		return &ChallengeKeyError{Object: st.object(), Problem: "not found after it was stored"}
	}
	return nil
}

// openChallengeKey reads and unwraps the key in st (nil when none is
// stored).
func openChallengeKey(ctx context.Context, st challengeKeyStore, kek phi.KEK) ([]byte, error) {
	s, err := st.load(ctx)
	if err != nil {
		return nil, &ChallengeKeyError{Object: st.object(), Problem: "cannot be read", Cause: durable.WithoutPath(err)}
	}
	if s == nil {
		return nil, nil
	}
	return unwrapChallengeKey(ctx, st, s, kek)
}

// unwrapChallengeKey opens s with kek.
func unwrapChallengeKey(ctx context.Context, st challengeKeyStore, s *storedChallengeKey, kek phi.KEK) ([]byte, error) {
	fail := func(problem string, cause error) error {
		return &ChallengeKeyError{Object: st.object(), StoredKEK: s.KEKID, KEK: kek.ID(), Problem: problem, Cause: cause}
	}
	if s.Version != challengeKeyVersion {
		return nil, fail(fmt.Sprintf("has version %d; this version of hipaakit reads version %d", s.Version, challengeKeyVersion), nil)
	}
	key, err := kek.Unwrap(ctx, s.Wrapped, []byte(challengeKeyAD))
	if err != nil {
		// Another KEK wrapped it (ErrWrongKEK), or the right one failed
		// (damaged bytes, KMS unreachable).
		return nil, fail("the key-encryption key does not open it", err)
	}
	if len(key) != challengeKeySize {
		clear(key)
		return nil, fail(fmt.Sprintf("unwraps to %d bytes, not %d", len(key), challengeKeySize), nil)
	}
	return key, nil
}

// RewrapChallengeKey re-wraps the deployment's stored login-challenge key
// from the KEK from to the KEK to, for `hipaakit kek migrate`. db is the
// PostgreSQL pool of the deployment's main schema, or nil for an embedded
// deployment in dataDir. It is resumable: a key already wrapped by to, or
// no stored key at all, is left alone (rewrapped false). A key that
// neither KEK wrapped, or that from cannot open, is a *ChallengeKeyError
// and nothing is changed.
func RewrapChallengeKey(ctx context.Context, db *pgxpool.Pool, dataDir string, from, to phi.KEK) (rewrapped bool, err error) {
	st := challengeKeys(db, dataDir)
	s, err := st.load(ctx)
	if err != nil {
		return false, &ChallengeKeyError{Object: st.object(), Problem: "cannot be read", Cause: durable.WithoutPath(err)}
	}
	if s == nil || s.KEKID == to.ID() {
		return false, nil
	}
	if s.KEKID != from.ID() {
		return false, &ChallengeKeyError{Object: st.object(), StoredKEK: s.KEKID, KEK: from.ID(),
			Problem: "is wrapped by neither the current nor the new key-encryption key"}
	}
	key, err := unwrapChallengeKey(ctx, st, s, from)
	if err != nil {
		return false, err
	}
	defer clear(key)
	wrapped, err := to.Wrap(ctx, key, []byte(challengeKeyAD))
	if err != nil {
		return false, fmt.Errorf("hipaakit: wrap the login-challenge key (%s) under %s: %w", st.object(), to.ID(), err)
	}
	ok, err := st.replace(ctx, from.ID(), storedChallengeKey{Version: challengeKeyVersion, KEKID: to.ID(), Wrapped: wrapped, CreatedAt: s.CreatedAt})
	if err != nil {
		return false, fmt.Errorf("hipaakit: store the re-wrapped login-challenge key (%s): %w", st.object(), durable.WithoutPath(err))
	}
	if !ok {
		// Another run re-wrapped it meanwhile: check what is stored now.
		return RewrapChallengeKey(ctx, db, dataDir, from, to)
	}
	return true, nil
}

// pgChallengeKeys keeps the key in hipaakit_challenge_keys (migration
// 0003).
type pgChallengeKeys struct{ pool *pgxpool.Pool }

func (pgChallengeKeys) object() string { return "table " + challengeKeyTable }

func (p pgChallengeKeys) load(ctx context.Context) (*storedChallengeKey, error) {
	var s storedChallengeKey
	err := p.pool.QueryRow(ctx, `SELECT version, kek_id, wrapped, created_at FROM `+challengeKeyTable+` WHERE name = $1`,
		challengeKeyName).Scan(&s.Version, &s.KEKID, &s.Wrapped, &s.CreatedAt)
	// A schema this version never started on has no table yet (the CLI
	// re-wrapping an older deployment): no key is stored.
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func (p pgChallengeKeys) create(ctx context.Context, s storedChallengeKey) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO `+challengeKeyTable+` (name, version, kek_id, wrapped, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`, challengeKeyName, s.Version, s.KEKID, s.Wrapped, s.CreatedAt)
	return err
}

func (p pgChallengeKeys) replace(ctx context.Context, oldKEK string, s storedChallengeKey) (bool, error) {
	tag, err := p.pool.Exec(ctx, `UPDATE `+challengeKeyTable+` SET version = $2, kek_id = $3, wrapped = $4
		WHERE name = $1 AND kek_id = $5`, challengeKeyName, s.Version, s.KEKID, s.Wrapped, oldKEK)
	return tag.RowsAffected() == 1, err
}

// fileChallengeKeys keeps the key in the data directory's
// FileChallengeKey (JSON, mode 0600), under the directory's lock.
type fileChallengeKeys struct{ dataDir string }

func (fileChallengeKeys) object() string { return "file " + FileChallengeKey }

func (f fileChallengeKeys) path() string { return filepath.Join(f.dataDir, FileChallengeKey) }

func (f fileChallengeKeys) load(context.Context) (*storedChallengeKey, error) {
	b, err := os.ReadFile(f.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeChallengeKeyFile(b)
}

// decodeChallengeKeyFile decodes the JSON of FileChallengeKey (the version
// and the wrap are checked when it is unwrapped).
func decodeChallengeKeyFile(b []byte) (*storedChallengeKey, error) {
	var s storedChallengeKey
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errors.New("not valid JSON")
	}
	return &s, nil
}

func (f fileChallengeKeys) create(ctx context.Context, s storedChallengeKey) error {
	if cur, err := f.load(ctx); err != nil || cur != nil {
		return err
	}
	return f.write(s)
}

func (f fileChallengeKeys) replace(ctx context.Context, oldKEK string, s storedChallengeKey) (bool, error) {
	cur, err := f.load(ctx)
	if err != nil || cur == nil || cur.KEKID != oldKEK {
		return false, err
	}
	return true, f.write(s)
}

func (f fileChallengeKeys) write(s storedChallengeKey) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return durable.WriteFileAtomic(f.path(), append(b, '\n'), 0o600)
}
