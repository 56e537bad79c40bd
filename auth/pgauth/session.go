// Package pgauth holds the PostgreSQL implementations of auth's stores
// (pgx v5, pgxpool), each with embedded SQL migrations applied by its
// Migrate function through internal/pgmigrate. The session store keeps
// SHA-256 token hashes only, never session tokens; AttemptStore (table
// auth_attempts, created by MigrateUsers) makes the login throttles of
// client keys and unknown names deployment-wide; every store passes the
// conformance suite of package auth/authtest. Connection strings, TLS and
// credentials are the caller's: pgauth never reads the environment.
package pgauth

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/internal/pgmigrate"
)

//go:embed migrations/sessions/*.sql
var sessionMigrations embed.FS

// SessionsComponent is the pgmigrate component of the session tables.
const SessionsComponent = "auth_sessions"

// MigrateSessions creates or upgrades the session and emergency-access
// tables (auth_sessions, auth_emergency_access) in the pool's current
// schema. It is safe to call from several instances at once.
func MigrateSessions(ctx context.Context, pool *pgxpool.Pool) error {
	return pgmigrate.Run(ctx, pool, "pgauth", SessionsComponent, sessionMigrations, "migrations/sessions")
}

// SessionStore is an auth.SessionStore in PostgreSQL (table auth_sessions;
// run MigrateSessions first). It stores token hashes only. Times are kept
// to the microsecond, PostgreSQL's precision.
type SessionStore struct {
	pool *pgxpool.Pool
}

var _ auth.SessionStore = (*SessionStore)(nil)

// NewSessionStore returns a store using pool.
func NewSessionStore(pool *pgxpool.Pool) *SessionStore { return &SessionStore{pool: pool} }

const sessionColumns = `id, token_sha256, user_id, tenant_id, created_at, last_seen_at, authenticated_at,
	idle_timeout_ms, absolute_timeout_ms, expires_at, mfa,
	emergency_access_id, emergency_role, emergency_reason, emergency_started_at, emergency_until, passkey`

// sessionArgs returns the column values of s in sessionColumns order.
func sessionArgs(s *auth.Session) []any {
	args := []any{s.ID, s.TokenHash[:], s.UserID, s.TenantID, s.CreatedAt, s.LastSeenAt, s.AuthenticatedAt,
		s.IdleTimeout.Milliseconds(), s.AbsoluteTimeout.Milliseconds(), s.ExpiresAt, s.MFA}
	if g := s.Emergency; g != nil {
		args = append(args, g.AccessID, g.Role, g.Reason, g.StartedAt, g.Until)
	} else {
		args = append(args, nil, nil, nil, nil, nil)
	}
	return append(args, s.Passkey)
}

func scanSession(row pgx.Row) (auth.Session, error) {
	var s auth.Session
	var hash []byte
	var idle, abs int64
	var accID, role, reason *string
	var started, until *time.Time
	err := row.Scan(&s.ID, &hash, &s.UserID, &s.TenantID, &s.CreatedAt, &s.LastSeenAt, &s.AuthenticatedAt,
		&idle, &abs, &s.ExpiresAt, &s.MFA, &accID, &role, &reason, &started, &until, &s.Passkey)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	if err != nil {
		return auth.Session{}, fmt.Errorf("pgauth: read session: %w", err)
	}
	if len(hash) != len(s.TokenHash) {
		return auth.Session{}, errors.New("pgauth: stored token hash has the wrong length")
	}
	copy(s.TokenHash[:], hash)
	s.IdleTimeout = time.Duration(idle) * time.Millisecond
	s.AbsoluteTimeout = time.Duration(abs) * time.Millisecond
	if accID != nil && until != nil {
		g := &auth.EmergencyGrant{AccessID: *accID, Until: *until}
		if role != nil {
			g.Role = *role
		}
		if reason != nil {
			g.Reason = *reason
		}
		if started != nil {
			g.StartedAt = *started
		}
		s.Emergency = g
	}
	return s, nil
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// CreateSession implements auth.SessionStore.
func (st *SessionStore) CreateSession(ctx context.Context, s auth.Session) error {
	_, err := st.pool.Exec(ctx, `INSERT INTO auth_sessions (`+sessionColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)`, sessionArgs(&s)...)
	if isUniqueViolation(err) {
		return auth.ErrSessionExists
	}
	if err != nil {
		return fmt.Errorf("pgauth: create session: %w", err)
	}
	return nil
}

// SessionByTokenHash implements auth.SessionStore.
func (st *SessionStore) SessionByTokenHash(ctx context.Context, h auth.TokenHash) (auth.Session, error) {
	return scanSession(st.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM auth_sessions WHERE token_sha256 = $1`, h[:]))
}

// SessionByID implements auth.SessionStore.
func (st *SessionStore) SessionByID(ctx context.Context, id string) (auth.Session, error) {
	return scanSession(st.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM auth_sessions WHERE id = $1`, id))
}

// UpdateSession implements auth.SessionStore.
func (st *SessionStore) UpdateSession(ctx context.Context, prev auth.TokenHash, s auth.Session) error {
	args := append(sessionArgs(&s), prev[:])
	tag, err := st.pool.Exec(ctx, `UPDATE auth_sessions SET
		token_sha256 = $2, user_id = $3, tenant_id = $4, created_at = $5, last_seen_at = $6,
		authenticated_at = $7, idle_timeout_ms = $8, absolute_timeout_ms = $9, expires_at = $10, mfa = $11,
		emergency_access_id = $12, emergency_role = $13, emergency_reason = $14,
		emergency_started_at = $15, emergency_until = $16, passkey = $17
		WHERE id = $1 AND token_sha256 = $18`, args...)
	if isUniqueViolation(err) {
		return auth.ErrSessionExists
	}
	if err != nil {
		return fmt.Errorf("pgauth: update session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrSessionNotFound
	}
	return nil
}

// DeleteSession implements auth.SessionStore.
func (st *SessionStore) DeleteSession(ctx context.Context, id string) error {
	tag, err := st.pool.Exec(ctx, `DELETE FROM auth_sessions WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("pgauth: delete session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrSessionNotFound
	}
	return nil
}

func collectSessions(rows pgx.Rows, err error) ([]auth.Session, error) {
	if err != nil {
		return nil, fmt.Errorf("pgauth: query sessions: %w", err)
	}
	defer rows.Close()
	var out []auth.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgauth: query sessions: %w", err)
	}
	return out, nil
}

// DeleteUserSessions implements auth.SessionStore.
func (st *SessionStore) DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]auth.Session, error) {
	return collectSessions(st.pool.Query(ctx, `DELETE FROM auth_sessions WHERE user_id = $1 AND id <> $2
		RETURNING `+sessionColumns, userID, exceptID))
}

// ListUserSessions implements auth.SessionStore.
func (st *SessionStore) ListUserSessions(ctx context.Context, userID string) ([]auth.Session, error) {
	return collectSessions(st.pool.Query(ctx, `SELECT `+sessionColumns+` FROM auth_sessions
		WHERE user_id = $1 ORDER BY created_at, id`, userID))
}

// ExpiredSessions implements auth.SessionStore.
func (st *SessionStore) ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]auth.Session, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	return collectSessions(st.pool.Query(ctx, `SELECT `+sessionColumns+` FROM auth_sessions
		WHERE expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, now, lim))
}

// EmergencyLog is an auth.EmergencyLog in PostgreSQL (table
// auth_emergency_access; run MigrateSessions first).
type EmergencyLog struct {
	pool *pgxpool.Pool
}

var _ auth.EmergencyLog = (*EmergencyLog)(nil)

// NewEmergencyLog returns a log using pool.
func NewEmergencyLog(pool *pgxpool.Pool) *EmergencyLog { return &EmergencyLog{pool: pool} }

// PutEmergencyAccess implements auth.EmergencyLog.
func (l *EmergencyLog) PutEmergencyAccess(ctx context.Context, a auth.EmergencyAccess) error {
	if a.ID == "" || a.UserID == "" || a.StartedAt.IsZero() {
		return errors.New("pgauth: incomplete emergency access record")
	}
	_, err := l.pool.Exec(ctx, `INSERT INTO auth_emergency_access
		(id, user_id, tenant_id, session_id, role, reason, started_at, until, ended_at, end_reason)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
		ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, tenant_id = EXCLUDED.tenant_id,
		session_id = EXCLUDED.session_id, role = EXCLUDED.role, reason = EXCLUDED.reason,
		started_at = EXCLUDED.started_at, until = EXCLUDED.until, ended_at = EXCLUDED.ended_at,
		end_reason = EXCLUDED.end_reason`,
		a.ID, a.UserID, a.TenantID, a.SessionID, a.Role, a.Reason, a.StartedAt, a.Until, nullTime(a.EndedAt), a.EndReason)
	if err != nil {
		return fmt.Errorf("pgauth: record emergency access: %w", err)
	}
	return nil
}

// EmergencyAccesses implements auth.EmergencyLog.
func (l *EmergencyLog) EmergencyAccesses(ctx context.Context, from, to time.Time) ([]auth.EmergencyAccess, error) {
	rows, err := l.pool.Query(ctx, `SELECT id, user_id, tenant_id, session_id, role, reason, started_at, until,
		ended_at, end_reason FROM auth_emergency_access WHERE started_at >= $1 AND started_at < $2
		ORDER BY started_at, id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("pgauth: emergency report: %w", err)
	}
	defer rows.Close()
	var out []auth.EmergencyAccess
	for rows.Next() {
		var a auth.EmergencyAccess
		var ended *time.Time
		if err := rows.Scan(&a.ID, &a.UserID, &a.TenantID, &a.SessionID, &a.Role, &a.Reason, &a.StartedAt, &a.Until, &ended, &a.EndReason); err != nil {
			return nil, fmt.Errorf("pgauth: emergency report: %w", err)
		}
		if ended != nil {
			a.EndedAt = *ended
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgauth: emergency report: %w", err)
	}
	return out, nil
}
