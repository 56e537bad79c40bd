package pgauth

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/internal/memindex"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/internal/pgmigrate"
)

//go:embed migrations/users/*.sql
var userMigrations embed.FS

// UsersComponent is the pgmigrate component of the user table.
const UsersComponent = "auth_users"

// MigrateUsers creates or upgrades the user table (auth_users) in the
// pool's current schema. It is safe to call from several instances at once.
func MigrateUsers(ctx context.Context, pool *pgxpool.Pool) error {
	return pgmigrate.Run(ctx, pool, "pgauth", UsersComponent, userMigrations, "migrations/users")
}

// UserStore is an auth.UserStore in PostgreSQL (table auth_users; run
// MigrateUsers first). Compare-and-swap is one conditional UPDATE on the
// version column; name uniqueness is a partial unique index over the users
// that are not removed. Times are kept to the microsecond and returned in UTC.
type UserStore struct {
	pool *pgxpool.Pool
}

var _ auth.UserStore = (*UserStore)(nil)

// NewUserStore returns a store using pool.
func NewUserStore(pool *pgxpool.Pool) *UserStore { return &UserStore{pool: pool} }

const userColumns = `id, tenant_id, name, status, roles, admin, password_hash, password_changed_at,
	totp_secret, totp_active, totp_digits, totp_period, totp_algorithm, totp_last_step, totp_enrolled_at,
	recovery_codes, failures, last_failure, locked_at, created_at, updated_at, version, role_request, passkeys`

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// passkeysArg is the jsonb value of a user's passkeys: an array, never null.
func passkeysArg(ps []passkey.Credential) []passkey.Credential {
	if ps == nil {
		return []passkey.Credential{}
	}
	return ps
}

// zeroUTC returns t in UTC, keeping the zero time zero.
func zeroUTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// userArgs returns the values of u in userColumns order, with version v.
func userArgs(u *auth.User, v int64) []any {
	m := u.MFA
	return []any{u.ID, u.TenantID, u.Name, string(u.Status), nonNil(u.Roles), u.Admin, u.PasswordHash, nullTime(u.PasswordChangedAt),
		m.TOTPSecret, m.TOTPActive, m.TOTPDigits, m.TOTPPeriod, m.TOTPAlgorithm, m.TOTPLastStep, nullTime(m.TOTPEnrolledAt),
		nonNil(m.RecoveryCodes), u.Lockout.Failures, nullTime(u.Lockout.LastFailure), nullTime(u.Lockout.LockedAt),
		u.CreatedAt, u.UpdatedAt, v, u.RoleRequest, passkeysArg(u.Passkeys)}
}

func scanUser(row pgx.Row) (*auth.User, error) {
	var u auth.User
	var status string
	var pwChanged, enrolled, lastFail, locked *time.Time
	err := row.Scan(&u.ID, &u.TenantID, &u.Name, &status, &u.Roles, &u.Admin, &u.PasswordHash, &pwChanged,
		&u.MFA.TOTPSecret, &u.MFA.TOTPActive, &u.MFA.TOTPDigits, &u.MFA.TOTPPeriod, &u.MFA.TOTPAlgorithm,
		&u.MFA.TOTPLastStep, &enrolled, &u.MFA.RecoveryCodes, &u.Lockout.Failures, &lastFail, &locked,
		&u.CreatedAt, &u.UpdatedAt, &u.Version, &u.RoleRequest, &u.Passkeys)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, auth.ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pgauth: read user: %w", err)
	}
	u.Status = auth.Status(status)
	u.PasswordChangedAt, u.MFA.TOTPEnrolledAt = fromNull(pwChanged), fromNull(enrolled)
	u.Lockout.LastFailure, u.Lockout.LockedAt = fromNull(lastFail), fromNull(locked)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	if u.RoleRequest != nil {
		u.RoleRequest.RequestedAt = u.RoleRequest.RequestedAt.UTC()
	}
	if len(u.Roles) == 0 {
		u.Roles = nil
	}
	if len(u.Passkeys) == 0 {
		u.Passkeys = nil
	}
	for i := range u.Passkeys {
		p := &u.Passkeys[i]
		p.CreatedAt, p.LastUsedAt = zeroUTC(p.CreatedAt), zeroUTC(p.LastUsedAt)
	}
	if len(u.MFA.RecoveryCodes) == 0 {
		u.MFA.RecoveryCodes = nil
	}
	if len(u.MFA.TOTPSecret) == 0 {
		u.MFA.TOTPSecret = nil
	}
	return &u, nil
}

// Create implements auth.UserStore.
func (s *UserStore) Create(ctx context.Context, u *auth.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_users (`+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
		userArgs(u, 1)...)
	if isUniqueViolation(err) {
		return auth.ErrUserExists
	}
	if err != nil {
		return fmt.Errorf("pgauth: create user: %w", err)
	}
	u.Version = 1
	return nil
}

// Get implements auth.UserStore.
func (s *UserStore) Get(ctx context.Context, id string) (*auth.User, error) {
	if !auth.ValidUserID(id) {
		return nil, auth.ErrUserNotFound
	}
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM auth_users WHERE id = $1`, id))
}

// GetByName implements auth.UserStore.
func (s *UserStore) GetByName(ctx context.Context, tenantID, name string) (*auth.User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM auth_users
		WHERE tenant_id = $1 AND name = $2 AND status <> 'removed'`, tenantID, name))
}

// Update implements auth.UserStore.
func (s *UserStore) Update(ctx context.Context, u *auth.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	args := append(userArgs(u, u.Version+1), u.Version)
	tag, err := s.pool.Exec(ctx, `UPDATE auth_users SET
		name = $3, status = $4, roles = $5, admin = $6, password_hash = $7, password_changed_at = $8,
		totp_secret = $9, totp_active = $10, totp_digits = $11, totp_period = $12, totp_algorithm = $13,
		totp_last_step = $14, totp_enrolled_at = $15, recovery_codes = $16, failures = $17,
		last_failure = $18, locked_at = $19, created_at = $20, updated_at = $21, version = $22, role_request = $23, passkeys = $24
		WHERE id = $1 AND tenant_id = $2 AND version = $25 AND (status <> 'removed' OR $4 = 'removed')`, args...)
	if isUniqueViolation(err) {
		return auth.ErrUserExists
	}
	if err != nil {
		return fmt.Errorf("pgauth: update user: %w", err)
	}
	if tag.RowsAffected() == 1 {
		u.Version++
		return nil
	}
	// Nothing changed: say why, in the order memindex.CheckChange checks.
	var stored auth.User
	var status string
	err = s.pool.QueryRow(ctx, `SELECT tenant_id, status, version FROM auth_users WHERE id = $1`, u.ID).
		Scan(&stored.TenantID, &status, &stored.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.ErrUserNotFound
	}
	if err != nil {
		return fmt.Errorf("pgauth: update user: %w", err)
	}
	stored.Status = auth.Status(status)
	if err := memindex.CheckChange(&stored, u); err != nil {
		return err
	}
	return auth.ErrVersionConflict // changed between the UPDATE and the SELECT
}

// List implements auth.UserStore.
func (s *UserStore) List(ctx context.Context, tenantID string) ([]*auth.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM auth_users WHERE tenant_id = $1 ORDER BY name, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("pgauth: list users: %w", err)
	}
	defer rows.Close()
	var out []*auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgauth: list users: %w", err)
	}
	memindex.SortUsers(out) // byte order, whatever the database collation
	return out, nil
}
