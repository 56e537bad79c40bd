package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/durable"
)

// ErrCorruptUserFile reports a user file that cannot be decoded; the store
// refuses to open rather than silently losing a user.
var ErrCorruptUserFile = errors.New("auth: corrupt user file")

// userFileVersion is the version of the user file format (see doc.go).
const userFileVersion = 1

// maxUserFile bounds the size of a user file read at open.
const maxUserFile = 64 << 10

// userFile is the on-disk form of a User (format v1).
type userFile struct {
	V                 int          `json:"v"`
	ID                string       `json:"id"`
	TenantID          string       `json:"tenant_id"`
	Name              string       `json:"name"`
	Status            Status       `json:"status"`
	Roles             []string     `json:"roles,omitempty"`
	Admin             bool         `json:"admin,omitempty"`
	PasswordHash      string       `json:"password_hash,omitempty"`
	PasswordChangedAt time.Time    `json:"password_changed_at"`
	MFA               userFileMFA  `json:"mfa"`
	Lockout           userFileLock `json:"lockout"`
	RoleRequest       *RoleRequest `json:"role_request,omitempty"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
	Version           int64        `json:"version"`
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

// EncodeUserFile returns the version 1 file bytes of u (one JSON object and
// a newline). It is exported for stores and tools that keep users as
// documents; the format is described in the package documentation.
func EncodeUserFile(u *User) ([]byte, error) {
	f := userFile{V: userFileVersion, ID: u.ID, TenantID: u.TenantID, Name: u.Name, Status: u.Status,
		Roles: u.Roles, Admin: u.Admin, PasswordHash: u.PasswordHash, PasswordChangedAt: u.PasswordChangedAt.UTC(),
		MFA: userFileMFA{TOTPSecret: u.MFA.TOTPSecret, TOTPActive: u.MFA.TOTPActive, TOTPDigits: u.MFA.TOTPDigits,
			TOTPPeriod: u.MFA.TOTPPeriod, TOTPAlgorithm: u.MFA.TOTPAlgorithm, TOTPLastStep: u.MFA.TOTPLastStep,
			TOTPEnrolledAt: u.MFA.TOTPEnrolledAt.UTC(), RecoveryCodes: u.MFA.RecoveryCodes},
		Lockout:     userFileLock{Failures: u.Lockout.Failures, LastFailure: u.Lockout.LastFailure.UTC(), LockedAt: u.Lockout.LockedAt.UTC()},
		RoleRequest: u.RoleRequest.utc(),
		CreatedAt:   u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), Version: u.Version}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("auth: encode user file: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeUserFile parses a user file and validates the user. Errors match
// ErrCorruptUserFile and never quote the input.
func DecodeUserFile(b []byte) (*User, error) {
	var f userFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: not a user document", ErrCorruptUserFile)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrCorruptUserFile)
	}
	if f.V != userFileVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrCorruptUserFile, f.V)
	}
	u := &User{ID: f.ID, TenantID: f.TenantID, Name: f.Name, Status: f.Status, Roles: f.Roles, Admin: f.Admin,
		PasswordHash: f.PasswordHash, PasswordChangedAt: zeroUTC(f.PasswordChangedAt),
		MFA: MFA{TOTPSecret: f.MFA.TOTPSecret, TOTPActive: f.MFA.TOTPActive, TOTPDigits: f.MFA.TOTPDigits,
			TOTPPeriod: f.MFA.TOTPPeriod, TOTPAlgorithm: f.MFA.TOTPAlgorithm, TOTPLastStep: f.MFA.TOTPLastStep,
			TOTPEnrolledAt: zeroUTC(f.MFA.TOTPEnrolledAt), RecoveryCodes: f.MFA.RecoveryCodes},
		Lockout:     LockoutState{Failures: f.Lockout.Failures, LastFailure: zeroUTC(f.Lockout.LastFailure), LockedAt: zeroUTC(f.Lockout.LockedAt)},
		RoleRequest: f.RoleRequest.utc(),
		CreatedAt:   zeroUTC(f.CreatedAt), UpdatedAt: zeroUTC(f.UpdatedAt), Version: f.Version}
	if err := u.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptUserFile, err)
	}
	if u.Version < 1 {
		return nil, fmt.Errorf("%w: bad version counter", ErrCorruptUserFile)
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

// FileUserStore is the embedded default UserStore: one JSON file per user
// (format v1, see the package documentation) in a directory, each written
// atomically and fsynced (package durable), with an in-memory index so that
// reads never touch the disk. An exclusive lock file (".lock") keeps a
// second process from opening the same directory.
type FileUserStore struct {
	dir  string
	lock *durable.Lock
	wmu  sync.Mutex // serialises writes so that disk and index agree
	mem  *MemoryUserStore
}

var _ UserStore = (*FileUserStore)(nil)

// OpenFileUserStore opens (creating it with mode 0700 if needed) the user
// directory dir and loads its users. It fails with durable.ErrLocked when
// another store has the directory open, and with ErrCorruptUserFile when a
// user file cannot be read. Close releases the directory.
func OpenFileUserStore(dir string) (*FileUserStore, error) {
	lock, paths, err := openStoreDir(dir, "user")
	if err != nil {
		return nil, err
	}
	st := &FileUserStore{dir: dir, lock: lock, mem: NewMemoryUserStore()}
	if err := st.load(paths); err != nil {
		lock.Unlock()
		return nil, err
	}
	return st, nil
}

func (f *FileUserStore) load(paths []string) error {
	for _, path := range paths {
		u, err := readUserFile(path)
		if err != nil {
			return err
		}
		if f.fileName(u.ID) != path {
			return fmt.Errorf("%w: file name does not match user", ErrCorruptUserFile)
		}
		if err := f.mem.checkCreate(u); err != nil {
			return fmt.Errorf("%w: duplicate user or name", ErrCorruptUserFile)
		}
		f.mem.put(nil, u)
	}
	return nil
}

func readUserFile(path string) (*User, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read user file: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxUserFile+1))
	if err != nil {
		return nil, fmt.Errorf("auth: read user file: %w", err)
	}
	if len(b) > maxUserFile {
		return nil, fmt.Errorf("%w: too large", ErrCorruptUserFile)
	}
	return DecodeUserFile(b)
}

// fileName is the path of user id's file (IDs are lower-case base32, safe
// as file names).
func (f *FileUserStore) fileName(id string) string { return filepath.Join(f.dir, id+".json") }

// Close releases the directory lock. The store must not be used afterwards.
func (f *FileUserStore) Close() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f.lock.Unlock()
}

func (f *FileUserStore) write(u *User) error {
	b, err := EncodeUserFile(u)
	if err != nil {
		return err
	}
	if err := durable.WriteFileAtomic(f.fileName(u.ID), b, 0o600); err != nil {
		return fmt.Errorf("auth: write user: %w", err)
	}
	return nil
}

// Create implements UserStore. The file is durable before Create returns.
func (f *FileUserStore) Create(ctx context.Context, u *User) error {
	return f.writeThrough(ctx, u, 1, func() error { return f.mem.checkCreate(u) }, f.mem.Create)
}

// Get implements UserStore.
func (f *FileUserStore) Get(ctx context.Context, id string) (*User, error) { return f.mem.Get(ctx, id) }

// GetByName implements UserStore.
func (f *FileUserStore) GetByName(ctx context.Context, tenantID, name string) (*User, error) {
	return f.mem.GetByName(ctx, tenantID, name)
}

// Update implements UserStore. The file is durable before Update returns.
func (f *FileUserStore) Update(ctx context.Context, u *User) error {
	return f.writeThrough(ctx, u, u.Version+1, func() error { _, err := f.mem.checkUpdate(u); return err }, f.mem.Update)
}

// writeThrough validates u, checks it against the index (check runs under
// the index's read lock), writes its file with version, then applies the
// change to the index. Writes are serialised so that disk and index agree.
func (f *FileUserStore) writeThrough(ctx context.Context, u *User, version int64, check func() error,
	apply func(context.Context, *User) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mem.mu.RLock()
	err := check()
	f.mem.mu.RUnlock()
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

// List implements UserStore.
func (f *FileUserStore) List(ctx context.Context, tenantID string) ([]*User, error) {
	return f.mem.List(ctx, tenantID)
}
