package auth

import (
	"context"
	"sort"
	"sync"
	"time"
)

// MemorySessionStore keeps sessions in process memory. Sessions are lost when
// the process ends (which signs everyone out); use it for tests and
// single-process deployments that accept that.
type MemorySessionStore struct {
	mu     sync.RWMutex
	byID   map[string]*Session
	byHash map[TokenHash]*Session
}

var _ SessionStore = (*MemorySessionStore)(nil)

// NewMemorySessionStore returns an empty in-memory store.
func NewMemorySessionStore() *MemorySessionStore {
	return &MemorySessionStore{byID: map[string]*Session{}, byHash: map[TokenHash]*Session{}}
}

// checkCreate reports whether s may be added. Callers hold mu.
func (m *MemorySessionStore) checkCreate(s *Session) error {
	if _, ok := m.byID[s.ID]; ok {
		return ErrSessionExists
	}
	if _, ok := m.byHash[s.TokenHash]; ok {
		return ErrSessionExists
	}
	return nil
}

// checkUpdate reports whether s may replace the stored session with its ID. Callers hold mu.
func (m *MemorySessionStore) checkUpdate(prev TokenHash, s *Session) error {
	if cur, ok := m.byID[s.ID]; !ok || cur.TokenHash != prev {
		return ErrSessionNotFound
	}
	if o, ok := m.byHash[s.TokenHash]; ok && o.ID != s.ID {
		return ErrSessionExists
	}
	return nil
}

// put stores s (replacing the session with its ID). Callers hold mu and have checked.
func (m *MemorySessionStore) put(s Session) {
	if old, ok := m.byID[s.ID]; ok {
		delete(m.byHash, old.TokenHash)
	}
	c := s.clone()
	m.byID[s.ID] = &c
	m.byHash[s.TokenHash] = &c
}

// remove deletes the session with id. Callers hold mu.
func (m *MemorySessionStore) remove(id string) bool {
	old, ok := m.byID[id]
	if !ok {
		return false
	}
	delete(m.byHash, old.TokenHash)
	delete(m.byID, id)
	return true
}

// CreateSession implements SessionStore.
func (m *MemorySessionStore) CreateSession(ctx context.Context, s Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkCreate(&s); err != nil {
		return err
	}
	m.put(s)
	return nil
}

// SessionByTokenHash implements SessionStore.
func (m *MemorySessionStore) SessionByTokenHash(ctx context.Context, h TokenHash) (Session, error) {
	m.mu.RLock()
	s, ok := m.byHash[h]
	var c Session
	if ok {
		c = s.clone()
	}
	m.mu.RUnlock()
	if !ok {
		return Session{}, ErrSessionNotFound
	}
	return c, nil
}

// SessionByID implements SessionStore.
func (m *MemorySessionStore) SessionByID(ctx context.Context, id string) (Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.byID[id]
	if !ok {
		return Session{}, ErrSessionNotFound
	}
	return s.clone(), nil
}

// UpdateSession implements SessionStore.
func (m *MemorySessionStore) UpdateSession(ctx context.Context, prev TokenHash, s Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkUpdate(prev, &s); err != nil {
		return err
	}
	m.put(s)
	return nil
}

// DeleteSession implements SessionStore.
func (m *MemorySessionStore) DeleteSession(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.remove(id) {
		return ErrSessionNotFound
	}
	return nil
}

// userSessions returns copies of the sessions of userID except exceptID,
// oldest first. Callers hold mu.
func (m *MemorySessionStore) userSessions(userID, exceptID string) []Session {
	var out []Session
	for _, s := range m.byID {
		if s.UserID == userID && (exceptID == "" || s.ID != exceptID) {
			out = append(out, s.clone())
		}
	}
	sortSessions(out, func(s *Session) time.Time { return s.CreatedAt })
	return out
}

// DeleteUserSessions implements SessionStore.
func (m *MemorySessionStore) DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.userSessions(userID, exceptID)
	for _, s := range out {
		m.remove(s.ID)
	}
	return out, nil
}

// ListUserSessions implements SessionStore.
func (m *MemorySessionStore) ListUserSessions(ctx context.Context, userID string) ([]Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.userSessions(userID, ""), nil
}

// ExpiredSessions implements SessionStore.
func (m *MemorySessionStore) ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Session
	for _, s := range m.byID {
		if !s.ExpiresAt.After(now) {
			out = append(out, s.clone())
		}
	}
	sortSessions(out, func(s *Session) time.Time { return s.ExpiresAt })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// sortSessions orders ss by key, then by ID for a stable order.
func sortSessions(ss []Session, key func(*Session) time.Time) {
	sort.Slice(ss, func(i, j int) bool {
		a, b := key(&ss[i]), key(&ss[j])
		if !a.Equal(b) {
			return a.Before(b)
		}
		return ss[i].ID < ss[j].ID
	})
}
