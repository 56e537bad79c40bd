package filestore

import (
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/internal/memindex"

	"bytes"
	"context"
	"encoding/hex"
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

// auth.SessionStore is the embedded default SessionStore: one small JSON file
// per session in a directory, written atomically and fsynced
// (package durable), with an in-memory index so that reads never touch the
// disk. An exclusive lock file keeps a second process from opening the same
// directory.
//
// # File format (version 1)
//
// Each session is the file <hex(ID)>.json (mode 0600): one JSON object and a
// newline, with the fields
//
//	v                    1 (the format version; other versions are refused)
//	id                   the session ID
//	token_sha256         hex SHA-256 of the token (the token itself is never written)
//	user_id, tenant_id
//	created_at, last_seen_at, authenticated_at, expires_at   RFC 3339 UTC
//	idle_timeout_ms, absolute_timeout_ms                     positive integers
//	mfa                  true when present
//	emergency            {access_id, role, reason, started_at, until} when present
//
// Unknown fields, a missing required field, a file larger than 64 KiB or a
// name that does not match the ID make OpenSessionStore fail with
// ErrCorrupt. testdata/session_v1.json is the golden vector.
type SessionStore struct {
	dir  string
	lock *durable.Lock
	wmu  sync.Mutex // serialises writes so that disk and index agree
	mem  *memindex.Sessions
}

var _ auth.SessionStore = (*SessionStore)(nil)

// sessionFileVersion is the version of the session file format.
const sessionFileVersion = 1

// maxSessionFile bounds the size of a session file read at open.
const maxSessionFile = 64 << 10

// sessionFile is the on-disk form of a auth.Session (format v1).
type sessionFile struct {
	V               int            `json:"v"`
	ID              string         `json:"id"`
	TokenHash       string         `json:"token_sha256"`
	UserID          string         `json:"user_id"`
	TenantID        string         `json:"tenant_id,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
	LastSeenAt      time.Time      `json:"last_seen_at"`
	AuthenticatedAt time.Time      `json:"authenticated_at"`
	IdleTimeoutMS   int64          `json:"idle_timeout_ms"`
	AbsoluteMS      int64          `json:"absolute_timeout_ms"`
	ExpiresAt       time.Time      `json:"expires_at"`
	MFA             bool           `json:"mfa,omitempty"`
	Passkey         bool           `json:"passkey,omitempty"`
	Emergency       *emergencyFile `json:"emergency,omitempty"`
}

type emergencyFile struct {
	AccessID  string    `json:"access_id"`
	Role      string    `json:"role"`
	Reason    string    `json:"reason"`
	StartedAt time.Time `json:"started_at"`
	Until     time.Time `json:"until"`
}

// encodeSessionFile returns the v1 file bytes of s.
func encodeSessionFile(s auth.Session) ([]byte, error) {
	f := sessionFile{
		V: sessionFileVersion, ID: s.ID, TokenHash: hex.EncodeToString(s.TokenHash[:]),
		UserID: s.UserID, TenantID: s.TenantID,
		CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(), AuthenticatedAt: s.AuthenticatedAt.UTC(),
		IdleTimeoutMS: s.IdleTimeout.Milliseconds(), AbsoluteMS: s.AbsoluteTimeout.Milliseconds(),
		ExpiresAt: s.ExpiresAt.UTC(), MFA: s.MFA, Passkey: s.Passkey,
	}
	if g := s.Emergency; g != nil {
		f.Emergency = &emergencyFile{AccessID: g.AccessID, Role: g.Role, Reason: g.Reason, StartedAt: g.StartedAt.UTC(), Until: g.Until.UTC()}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("filestore: encode session file: %w", err)
	}
	return append(b, '\n'), nil
}

// decodeSessionFile parses a session file. Errors never quote the input.
func decodeSessionFile(b []byte) (auth.Session, error) {
	var f sessionFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return auth.Session{}, fmt.Errorf("%w: session file: not a session document", ErrCorrupt)
	}
	if f.V != sessionFileVersion {
		return auth.Session{}, fmt.Errorf("%w: session file: unsupported version %d", ErrCorrupt, f.V)
	}
	var s auth.Session
	h, err := hex.DecodeString(f.TokenHash)
	if err != nil || len(h) != len(s.TokenHash) {
		return auth.Session{}, fmt.Errorf("%w: session file: bad token hash", ErrCorrupt)
	}
	if f.ID == "" || f.UserID == "" || f.IdleTimeoutMS <= 0 || f.AbsoluteMS <= 0 {
		return auth.Session{}, fmt.Errorf("%w: session file: missing field", ErrCorrupt)
	}
	copy(s.TokenHash[:], h)
	s.ID, s.UserID, s.TenantID = f.ID, f.UserID, f.TenantID
	s.CreatedAt, s.LastSeenAt, s.AuthenticatedAt, s.ExpiresAt = f.CreatedAt, f.LastSeenAt, f.AuthenticatedAt, f.ExpiresAt
	s.IdleTimeout = time.Duration(f.IdleTimeoutMS) * time.Millisecond
	s.AbsoluteTimeout = time.Duration(f.AbsoluteMS) * time.Millisecond
	s.MFA, s.Passkey = f.MFA, f.Passkey
	if e := f.Emergency; e != nil {
		s.Emergency = &auth.EmergencyGrant{AccessID: e.AccessID, Role: e.Role, Reason: e.Reason, StartedAt: e.StartedAt, Until: e.Until}
	}
	return s, nil
}

// OpenSessionStore opens (creating it with mode 0700 if needed) the
// session directory dir and loads its sessions. It fails with
// durable.ErrLocked when another store has the directory open and with
// ErrCorrupt when a session file cannot be read. Close releases
// the directory.
func OpenSessionStore(dir string) (*SessionStore, error) {
	lock, paths, err := openStoreDir(dir, "session")
	if err != nil {
		return nil, err
	}
	st := &SessionStore{dir: dir, lock: lock, mem: memindex.NewSessions()}
	for _, path := range paths {
		s, err := readSessionFile(path)
		if err == nil && st.fileName(s.ID) != path {
			err = fmt.Errorf("%w: session file: file name does not match session", ErrCorrupt)
		}
		if err == nil {
			err = st.mem.CheckCreate(&s)
		}
		if err != nil {
			lock.Unlock()
			return nil, err
		}
		st.mem.Put(s)
	}
	return st, nil
}

func readSessionFile(path string) (auth.Session, error) {
	f, err := os.Open(path)
	if err != nil {
		return auth.Session{}, fmt.Errorf("filestore: read session file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSessionFile+1))
	if err != nil {
		return auth.Session{}, fmt.Errorf("filestore: read session file: %w", err)
	}
	if len(b) > maxSessionFile {
		return auth.Session{}, fmt.Errorf("%w: session file: too large", ErrCorrupt)
	}
	return decodeSessionFile(b)
}

// fileName returns the path of the file for session id (hex-encoded so that
// any ID is a safe file name).
func (f *SessionStore) fileName(id string) string {
	return filepath.Join(f.dir, hex.EncodeToString([]byte(id))+".json")
}

// Close releases the directory lock. The store must not be used afterwards.
func (f *SessionStore) Close() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f.lock.Unlock()
}

func (f *SessionStore) write(s auth.Session) error {
	if len(s.ID) == 0 || len(s.ID) > 100 {
		return errors.New("filestore: session id must be 1 to 100 bytes")
	}
	b, err := encodeSessionFile(s)
	if err != nil {
		return err
	}
	if err := durable.WriteFileAtomic(f.fileName(s.ID), b, 0o600); err != nil {
		return fmt.Errorf("filestore: write session: %w", err)
	}
	return nil
}

// CreateSession implements auth.SessionStore.
func (f *SessionStore) CreateSession(ctx context.Context, s auth.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mem.Mu.RLock()
	err := f.mem.CheckCreate(&s)
	f.mem.Mu.RUnlock()
	if err != nil {
		return err
	}
	if err := f.write(s); err != nil {
		return err
	}
	return f.mem.CreateSession(context.WithoutCancel(ctx), s)
}

// SessionByTokenHash implements auth.SessionStore.
func (f *SessionStore) SessionByTokenHash(ctx context.Context, h auth.TokenHash) (auth.Session, error) {
	return f.mem.SessionByTokenHash(ctx, h)
}

// SessionByID implements auth.SessionStore.
func (f *SessionStore) SessionByID(ctx context.Context, id string) (auth.Session, error) {
	return f.mem.SessionByID(ctx, id)
}

// UpdateSession implements auth.SessionStore.
func (f *SessionStore) UpdateSession(ctx context.Context, prev auth.TokenHash, s auth.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mem.Mu.RLock()
	err := f.mem.CheckUpdate(prev, &s)
	f.mem.Mu.RUnlock()
	if err != nil {
		return err
	}
	if err := f.write(s); err != nil {
		return err
	}
	return f.mem.UpdateSession(context.WithoutCancel(ctx), prev, s)
}

// DeleteSession implements auth.SessionStore. The file is removed durably before
// the session disappears from the index.
func (f *SessionStore) DeleteSession(ctx context.Context, id string) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if _, err := f.mem.SessionByID(ctx, id); err != nil {
		return err
	}
	if err := durable.RemoveDurable(f.fileName(id)); err != nil {
		return fmt.Errorf("filestore: delete session: %w", err)
	}
	return f.mem.DeleteSession(ctx, id)
}

// DeleteUserSessions implements auth.SessionStore.
func (f *SessionStore) DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]auth.Session, error) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mem.Mu.RLock()
	victims := f.mem.UserSessions(userID, exceptID)
	f.mem.Mu.RUnlock()
	var done []auth.Session
	for _, s := range victims {
		if err := durable.RemoveDurable(f.fileName(s.ID)); err != nil {
			return done, fmt.Errorf("filestore: delete session: %w", err)
		}
		f.mem.DeleteSession(ctx, s.ID) //nolint:errcheck // present: we hold wmu
		done = append(done, s)
	}
	return done, nil
}

// ListUserSessions implements auth.SessionStore.
func (f *SessionStore) ListUserSessions(ctx context.Context, userID string) ([]auth.Session, error) {
	return f.mem.ListUserSessions(ctx, userID)
}

// ExpiredSessions implements auth.SessionStore.
func (f *SessionStore) ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]auth.Session, error) {
	return f.mem.ExpiredSessions(ctx, now, limit)
}
