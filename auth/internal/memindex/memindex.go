// Package memindex holds the in-memory user, session and emergency
// indexes behind auth/memstore and the file stores of auth/filestore, and
// the ordering and update rules every UserStore implementation shares.
package memindex

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/auth"
)

// CheckChange applies the rules auth.UserStore.Update imposes on a change from
// stored to u, other than name uniqueness: same tenant, matching version, no
// return from removal. Store implementations call it.
func CheckChange(stored, u *auth.User) error {
	if stored.TenantID != u.TenantID {
		return fmt.Errorf("%w: tenant cannot change", auth.ErrInvalidUser)
	}
	if stored.Version != u.Version {
		return auth.ErrVersionConflict
	}
	if stored.Status == auth.StatusRemoved && u.Status != auth.StatusRemoved {
		return fmt.Errorf("%w: a removed user cannot be restored", auth.ErrInvalidUser)
	}
	return nil
}

// Users is a auth.UserStore in memory, for tests and for single-process
// deployments that load users from elsewhere. The zero value is not usable;
// call NewUsers.
type Users struct {
	// Mu guards the index; CheckCreate, CheckUpdate and Put need it held.
	Mu   sync.RWMutex
	byID map[string]*auth.User
	// byName maps tenantID+"\x00"+name to the ID of the user that is not removed.
	byName map[string]string
}

var _ auth.UserStore = (*Users)(nil)

// NewUsers returns an empty store.
func NewUsers() *Users {
	return &Users{byID: map[string]*auth.User{}, byName: map[string]string{}}
}

func nameKey(tenantID, name string) string { return tenantID + "\x00" + name }

// Create implements auth.UserStore.
func (s *Users) Create(ctx context.Context, u *auth.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	s.Mu.Lock()
	defer s.Mu.Unlock()
	if err := s.CheckCreate(u); err != nil {
		return err
	}
	u.Version = 1
	s.Put(nil, u.Clone())
	return nil
}

// CheckCreate applies Create's uniqueness rules; s.mu is held.
func (s *Users) CheckCreate(u *auth.User) error {
	if _, ok := s.byID[u.ID]; ok {
		return auth.ErrUserExists
	}
	if u.Status != auth.StatusRemoved {
		if _, ok := s.byName[nameKey(u.TenantID, u.Name)]; ok {
			return auth.ErrUserExists
		}
	}
	return nil
}

// CheckUpdate applies Update's rules; s.mu is held. It returns the stored user.
func (s *Users) CheckUpdate(u *auth.User) (*auth.User, error) {
	stored, ok := s.byID[u.ID]
	if !ok {
		return nil, auth.ErrUserNotFound
	}
	if err := CheckChange(stored, u); err != nil {
		return nil, err
	}
	if u.Status != auth.StatusRemoved {
		if id, taken := s.byName[nameKey(u.TenantID, u.Name)]; taken && id != u.ID {
			return nil, auth.ErrUserExists
		}
	}
	return stored, nil
}

// Put replaces prev (nil for a new user) by u in the indexes; s.mu is held.
func (s *Users) Put(prev, u *auth.User) {
	if prev != nil && prev.Status != auth.StatusRemoved {
		delete(s.byName, nameKey(prev.TenantID, prev.Name))
	}
	if u.Status != auth.StatusRemoved {
		s.byName[nameKey(u.TenantID, u.Name)] = u.ID
	}
	s.byID[u.ID] = u
}

// Get implements auth.UserStore.
func (s *Users) Get(ctx context.Context, id string) (*auth.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !auth.ValidUserID(id) {
		return nil, auth.ErrUserNotFound
	}
	s.Mu.RLock()
	defer s.Mu.RUnlock()
	u, ok := s.byID[id]
	if !ok {
		return nil, auth.ErrUserNotFound
	}
	return u.Clone(), nil
}

// GetByName implements auth.UserStore.
func (s *Users) GetByName(ctx context.Context, tenantID, name string) (*auth.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Mu.RLock()
	defer s.Mu.RUnlock()
	id, ok := s.byName[nameKey(tenantID, name)]
	if !ok {
		return nil, auth.ErrUserNotFound
	}
	return s.byID[id].Clone(), nil
}

// Update implements auth.UserStore.
func (s *Users) Update(ctx context.Context, u *auth.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	s.Mu.Lock()
	defer s.Mu.Unlock()
	stored, err := s.CheckUpdate(u)
	if err != nil {
		return err
	}
	u.Version++
	s.Put(stored, u.Clone())
	return nil
}

// List implements auth.UserStore.
func (s *Users) List(ctx context.Context, tenantID string) ([]*auth.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Mu.RLock()
	defer s.Mu.RUnlock()
	var out []*auth.User
	for _, u := range s.byID {
		if u.TenantID == tenantID {
			out = append(out, u.Clone())
		}
	}
	SortUsers(out)
	return out, nil
}

// SortUsers sorts users by Name, then ID, the order auth.UserStore.List returns.
func SortUsers(us []*auth.User) {
	slices.SortFunc(us, func(a, b *auth.User) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Sessions keeps sessions in process memory. Sessions are lost when
// the process ends (which signs everyone out); use it for tests and
// single-process deployments that accept that.
type Sessions struct {
	// Mu guards the index; the exported helpers that say so need it held.
	Mu     sync.RWMutex
	byID   map[string]*auth.Session
	byHash map[auth.TokenHash]*auth.Session
}

var _ auth.SessionStore = (*Sessions)(nil)

// NewSessions returns an empty in-memory store.
func NewSessions() *Sessions {
	return &Sessions{byID: map[string]*auth.Session{}, byHash: map[auth.TokenHash]*auth.Session{}}
}

// CheckCreate reports whether s may be added. Callers hold mu.
func (m *Sessions) CheckCreate(s *auth.Session) error {
	if _, ok := m.byID[s.ID]; ok {
		return auth.ErrSessionExists
	}
	if _, ok := m.byHash[s.TokenHash]; ok {
		return auth.ErrSessionExists
	}
	return nil
}

// CheckUpdate reports whether s may replace the stored session with its ID. Callers hold mu.
func (m *Sessions) CheckUpdate(prev auth.TokenHash, s *auth.Session) error {
	if cur, ok := m.byID[s.ID]; !ok || cur.TokenHash != prev {
		return auth.ErrSessionNotFound
	}
	if o, ok := m.byHash[s.TokenHash]; ok && o.ID != s.ID {
		return auth.ErrSessionExists
	}
	return nil
}

// Put stores s (replacing the session with its ID). Callers hold mu and have checked.
func (m *Sessions) Put(s auth.Session) {
	if old, ok := m.byID[s.ID]; ok {
		delete(m.byHash, old.TokenHash)
	}
	c := s.Clone()
	m.byID[s.ID] = &c
	m.byHash[s.TokenHash] = &c
}

// Remove deletes the session with id. Callers hold mu.
func (m *Sessions) Remove(id string) bool {
	old, ok := m.byID[id]
	if !ok {
		return false
	}
	delete(m.byHash, old.TokenHash)
	delete(m.byID, id)
	return true
}

// CreateSession implements auth.SessionStore.
func (m *Sessions) CreateSession(ctx context.Context, s auth.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.Mu.Lock()
	defer m.Mu.Unlock()
	if err := m.CheckCreate(&s); err != nil {
		return err
	}
	m.Put(s)
	return nil
}

// SessionByTokenHash implements auth.SessionStore.
func (m *Sessions) SessionByTokenHash(ctx context.Context, h auth.TokenHash) (auth.Session, error) {
	m.Mu.RLock()
	s, ok := m.byHash[h]
	var c auth.Session
	if ok {
		c = s.Clone()
	}
	m.Mu.RUnlock()
	if !ok {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	return c, nil
}

// SessionByID implements auth.SessionStore.
func (m *Sessions) SessionByID(ctx context.Context, id string) (auth.Session, error) {
	m.Mu.RLock()
	defer m.Mu.RUnlock()
	s, ok := m.byID[id]
	if !ok {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	return s.Clone(), nil
}

// UpdateSession implements auth.SessionStore.
func (m *Sessions) UpdateSession(ctx context.Context, prev auth.TokenHash, s auth.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.Mu.Lock()
	defer m.Mu.Unlock()
	if err := m.CheckUpdate(prev, &s); err != nil {
		return err
	}
	m.Put(s)
	return nil
}

// DeleteSession implements auth.SessionStore.
func (m *Sessions) DeleteSession(ctx context.Context, id string) error {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	if !m.Remove(id) {
		return auth.ErrSessionNotFound
	}
	return nil
}

// UserSessions returns copies of the sessions of userID except exceptID,
// oldest first. Callers hold mu.
func (m *Sessions) UserSessions(userID, exceptID string) []auth.Session {
	var out []auth.Session
	for _, s := range m.byID {
		if s.UserID == userID && (exceptID == "" || s.ID != exceptID) {
			out = append(out, s.Clone())
		}
	}
	sortSessions(out, func(s *auth.Session) time.Time { return s.CreatedAt })
	return out
}

// DeleteUserSessions implements auth.SessionStore.
func (m *Sessions) DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]auth.Session, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	out := m.UserSessions(userID, exceptID)
	for _, s := range out {
		m.Remove(s.ID)
	}
	return out, nil
}

// ListUserSessions implements auth.SessionStore.
func (m *Sessions) ListUserSessions(ctx context.Context, userID string) ([]auth.Session, error) {
	m.Mu.RLock()
	defer m.Mu.RUnlock()
	return m.UserSessions(userID, ""), nil
}

// ExpiredSessions implements auth.SessionStore.
func (m *Sessions) ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]auth.Session, error) {
	m.Mu.RLock()
	defer m.Mu.RUnlock()
	var out []auth.Session
	for _, s := range m.byID {
		if !s.ExpiresAt.After(now) {
			out = append(out, s.Clone())
		}
	}
	sortSessions(out, func(s *auth.Session) time.Time { return s.ExpiresAt })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// sortSessions orders ss by key, then by ID for a stable order.
func sortSessions(ss []auth.Session, key func(*auth.Session) time.Time) {
	sort.Slice(ss, func(i, j int) bool {
		a, b := key(&ss[i]), key(&ss[j])
		if !a.Equal(b) {
			return a.Before(b)
		}
		return ss[i].ID < ss[j].ID
	})
}

// EmergencyLog is an EmergencyLog in memory (records are lost when
// the process ends).
type EmergencyLog struct {
	mu sync.Mutex
	m  map[string]auth.EmergencyAccess
}

var _ auth.EmergencyLog = (*EmergencyLog)(nil)

// NewEmergencyLog returns an empty log.
func NewEmergencyLog() *EmergencyLog {
	return &EmergencyLog{m: map[string]auth.EmergencyAccess{}}
}

// PutEmergencyAccess implements EmergencyLog.
func (l *EmergencyLog) PutEmergencyAccess(ctx context.Context, a auth.EmergencyAccess) error {
	if a.ID == "" {
		return errors.New("auth: emergency access without id")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[a.ID] = a
	return nil
}

// EmergencyAccesses implements EmergencyLog.
func (l *EmergencyLog) EmergencyAccesses(ctx context.Context, from, to time.Time) ([]auth.EmergencyAccess, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return SelectAccesses(l.m, from, to), nil
}

// SelectAccesses returns the accesses of m that started in [from, to), sorted.
func SelectAccesses(m map[string]auth.EmergencyAccess, from, to time.Time) []auth.EmergencyAccess {
	var out []auth.EmergencyAccess
	for _, a := range m {
		if !a.StartedAt.Before(from) && a.StartedAt.Before(to) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.Before(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
