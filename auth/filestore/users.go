package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/internal/memindex"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/durable"
)

// userFileVersion is the version of the user file format (see doc.go).
const userFileVersion = 1

// maxUserFile bounds the size of a user file read at open.
const maxUserFile = 64 << 10

// userFile is the on-disk form of a auth.User (format v1).
type userFile struct {
	V                 int                  `json:"v"`
	ID                string               `json:"id"`
	TenantID          string               `json:"tenant_id"`
	Name              string               `json:"name"`
	Status            auth.Status          `json:"status"`
	Roles             []string             `json:"roles,omitempty"`
	Admin             bool                 `json:"admin,omitempty"`
	PasswordHash      string               `json:"password_hash,omitempty"`
	PasswordChangedAt time.Time            `json:"password_changed_at"`
	MFA               userFileMFA          `json:"mfa"`
	Lockout           userFileLock         `json:"lockout"`
	RoleRequest       *auth.RoleRequest    `json:"role_request,omitempty"`
	Passkeys          []passkey.Credential `json:"passkeys,omitempty"`
	CreatedAt         time.Time            `json:"created_at"`
	UpdatedAt         time.Time            `json:"updated_at"`
	Version           int64                `json:"version"`
}

type userFileMFA struct {
	TOTPSecret     []byte    `json:"totp_secret,omitempty"` // sealed, base64
	TOTPActive     bool      `json:"totp_active,omitempty"`
	TOTPDigits     int       `json:"totp_digits,omitempty"`
	TOTPPeriod     int       `json:"totp_period,omitempty"`
	TOTPAlgorithm  string    `json:"totp_algorithm,omitempty"`
	TOTPLastStep   int64     `json:"totp_last_step,omitempty"`
	TOTPEnrolledAt time.Time `json:"totp_enrolled_at"`
	RecoveryCodes  []string  `json:"recovery_codes,omitempty"` // hashes
}

type userFileLock struct {
	Failures    int       `json:"failures,omitempty"`
	LastFailure time.Time `json:"last_failure"`
	LockedAt    time.Time `json:"locked_at"`
}

// encodeUser returns the version 1 file bytes of u (one JSON object and
// a newline). It is exported for stores and tools that keep users as
// documents; the format is described in the package documentation.
func encodeUser(u *auth.User) ([]byte, error) {
	f := userFile{V: userFileVersion, ID: u.ID, TenantID: u.TenantID, Name: u.Name, Status: u.Status,
		Roles: u.Roles, Admin: u.Admin, PasswordHash: u.PasswordHash, PasswordChangedAt: u.PasswordChangedAt.UTC(),
		MFA: userFileMFA{TOTPSecret: u.MFA.TOTPSecret, TOTPActive: u.MFA.TOTPActive, TOTPDigits: u.MFA.TOTPDigits,
			TOTPPeriod: u.MFA.TOTPPeriod, TOTPAlgorithm: u.MFA.TOTPAlgorithm, TOTPLastStep: u.MFA.TOTPLastStep,
			TOTPEnrolledAt: u.MFA.TOTPEnrolledAt.UTC(), RecoveryCodes: u.MFA.RecoveryCodes},
		Lockout:     userFileLock{Failures: u.Lockout.Failures, LastFailure: u.Lockout.LastFailure.UTC(), LockedAt: u.Lockout.LockedAt.UTC()},
		RoleRequest: roleRequestUTC(u.RoleRequest),
		Passkeys:    passkeysUTC(u.Passkeys),
		CreatedAt:   u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), Version: u.Version}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("filestore: encode user file: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeUser parses a user file and validates the user. Errors match
// ErrCorrupt and never quote the input.
func DecodeUser(b []byte) (*auth.User, error) {
	var f userFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: user file: not a user document", ErrCorrupt)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: user file: trailing data", ErrCorrupt)
	}
	if f.V != userFileVersion {
		return nil, fmt.Errorf("%w: user file: unsupported version %d", ErrCorrupt, f.V)
	}
	u := &auth.User{ID: f.ID, TenantID: f.TenantID, Name: f.Name, Status: f.Status, Roles: f.Roles, Admin: f.Admin,
		PasswordHash: f.PasswordHash, PasswordChangedAt: zeroUTC(f.PasswordChangedAt),
		MFA: auth.MFA{TOTPSecret: f.MFA.TOTPSecret, TOTPActive: f.MFA.TOTPActive, TOTPDigits: f.MFA.TOTPDigits,
			TOTPPeriod: f.MFA.TOTPPeriod, TOTPAlgorithm: f.MFA.TOTPAlgorithm, TOTPLastStep: f.MFA.TOTPLastStep,
			TOTPEnrolledAt: zeroUTC(f.MFA.TOTPEnrolledAt), RecoveryCodes: f.MFA.RecoveryCodes},
		Lockout:     auth.LockoutState{Failures: f.Lockout.Failures, LastFailure: zeroUTC(f.Lockout.LastFailure), LockedAt: zeroUTC(f.Lockout.LockedAt)},
		RoleRequest: roleRequestUTC(f.RoleRequest),
		Passkeys:    passkeysUTC(f.Passkeys),
		CreatedAt:   zeroUTC(f.CreatedAt), UpdatedAt: zeroUTC(f.UpdatedAt), Version: f.Version}
	if err := u.Validate(); err != nil {
		return nil, fmt.Errorf("%w: user file: %w", ErrCorrupt, err)
	}
	if u.Version < 1 {
		return nil, fmt.Errorf("%w: user file: bad version counter", ErrCorrupt)
	}
	return u, nil
}

// zeroUTC returns t in UTC, keeping the zero time zero.
func zeroUTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// auth.UserStore is the embedded default UserStore: one JSON file per user
// (format v1, see the package documentation) in a directory, each written
// atomically and fsynced (package durable), with an in-memory index so that
// reads never touch the disk. An exclusive lock file (".lock") keeps a
// second process from opening the same directory.
type UserStore struct {
	dir  string
	lock *durable.Lock
	wmu  sync.Mutex // serialises writes so that disk and index agree
	mem  *memindex.Users
}

var _ auth.UserStore = (*UserStore)(nil)

// OpenUserStore opens (creating it with mode 0700 if needed) the user
// directory dir and loads its users. It fails with durable.ErrLocked when
// another store has the directory open, and with ErrCorrupt when a
// user file cannot be read. Close releases the directory.
func OpenUserStore(dir string) (*UserStore, error) {
	lock, paths, err := openStoreDir(dir, "user")
	if err != nil {
		return nil, err
	}
	st := &UserStore{dir: dir, lock: lock, mem: memindex.NewUsers()}
	if err := st.load(paths); err != nil {
		lock.Unlock()
		return nil, err
	}
	return st, nil
}

func (f *UserStore) load(paths []string) error {
	for _, path := range paths {
		u, err := readUserFile(path)
		if err != nil {
			return err
		}
		if f.fileName(u.ID) != path {
			return fmt.Errorf("%w: user file: file name does not match user", ErrCorrupt)
		}
		if err := f.mem.CheckCreate(u); err != nil {
			return fmt.Errorf("%w: user file: duplicate user or name", ErrCorrupt)
		}
		f.mem.Put(nil, u)
	}
	return nil
}

func readUserFile(path string) (*auth.User, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("filestore: read user file: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxUserFile+1))
	if err != nil {
		return nil, fmt.Errorf("filestore: read user file: %w", err)
	}
	if len(b) > maxUserFile {
		return nil, fmt.Errorf("%w: user file: too large", ErrCorrupt)
	}
	return DecodeUser(b)
}

// fileName is the path of user id's file (IDs are lower-case base32, safe
// as file names).
func (f *UserStore) fileName(id string) string { return filepath.Join(f.dir, id+".json") }

// Close releases the directory lock. The store must not be used afterwards.
func (f *UserStore) Close() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f.lock.Unlock()
}

func (f *UserStore) write(u *auth.User) error {
	b, err := encodeUser(u)
	if err != nil {
		return err
	}
	if err := durable.WriteFileAtomic(f.fileName(u.ID), b, 0o600); err != nil {
		return fmt.Errorf("filestore: write user: %w", err)
	}
	return nil
}

// Create implements auth.UserStore. The file is durable before Create returns.
func (f *UserStore) Create(ctx context.Context, u *auth.User) error {
	return f.writeThrough(ctx, u, 1, func() error { return f.mem.CheckCreate(u) }, f.mem.Create)
}

// Get implements auth.UserStore.
func (f *UserStore) Get(ctx context.Context, id string) (*auth.User, error) {
	return f.mem.Get(ctx, id)
}

// GetByName implements auth.UserStore.
func (f *UserStore) GetByName(ctx context.Context, tenantID, name string) (*auth.User, error) {
	return f.mem.GetByName(ctx, tenantID, name)
}

// Update implements auth.UserStore. The file is durable before Update returns.
func (f *UserStore) Update(ctx context.Context, u *auth.User) error {
	return f.writeThrough(ctx, u, u.Version+1, func() error { _, err := f.mem.CheckUpdate(u); return err }, f.mem.Update)
}

// writeThrough validates u, checks it against the index (check runs under
// the index's read lock), writes its file with version, then applies the
// change to the index. Writes are serialised so that disk and index agree.
func (f *UserStore) writeThrough(ctx context.Context, u *auth.User, version int64, check func() error,
	apply func(context.Context, *auth.User) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mem.Mu.RLock()
	err := check()
	f.mem.Mu.RUnlock()
	if err != nil {
		return err
	}
	next := u.Clone()
	next.Version = version
	if err := f.write(next); err != nil {
		return err
	}
	return apply(context.WithoutCancel(ctx), u)
}

// List implements auth.UserStore.
func (f *UserStore) List(ctx context.Context, tenantID string) ([]*auth.User, error) {
	return f.mem.List(ctx, tenantID)
}

// roleRequestUTC returns a copy of r with its time in UTC (nil for nil).
func roleRequestUTC(r *auth.RoleRequest) *auth.RoleRequest {
	if r == nil {
		return nil
	}
	c := *r
	c.Roles = slices.Clone(r.Roles)
	c.RequestedAt = zeroUTC(r.RequestedAt)
	return &c
}

// passkeysUTC returns ps with its times in UTC (nil for none).
func passkeysUTC(ps []passkey.Credential) []passkey.Credential {
	if len(ps) == 0 {
		return nil
	}
	out := make([]passkey.Credential, len(ps))
	for i, p := range ps {
		p.CreatedAt, p.LastUsedAt = zeroUTC(p.CreatedAt), zeroUTC(p.LastUsedAt)
		out[i] = p
	}
	return out
}
