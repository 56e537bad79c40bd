package auth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
)

// capSessions enforces p.MaxSessionsPerUser after the new session s was
// stored: the user's live sessions are ordered oldest first (creation time,
// then ID) and all but the newest MaxSessionsPerUser end, each with a
// logout event (reason session_limit). s itself is never ended here, so a
// login always gets its session; when logins race on several replicas each
// computes the same order, and a session two of them end is recorded once.
// If the user's sessions cannot be listed, s is deleted again and the login
// fails: the cap is not silently skipped.
func (m *SessionManager) capSessions(ctx context.Context, r *http.Request, p *TenantPolicy, s *Session) error {
	limit := p.MaxSessionsPerUser
	if limit <= 0 {
		return nil
	}
	all, err := m.store.ListUserSessions(ctx, s.UserID)
	if err != nil {
		if derr := m.store.DeleteSession(ctx, s.ID); derr != nil {
			m.logError(ctx, "delete session", derr)
		}
		return fmt.Errorf("auth: session limit: list the user's sessions: %w", err)
	}
	now := m.now()
	live := all[:0]
	for _, o := range all {
		if o.ExpiresAt.After(now) || o.ID == s.ID {
			live = append(live, o) // expired ones are the sweeper's
		}
	}
	slices.SortStableFunc(live, func(a, b Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i := 0; i < len(live)-limit; i++ {
		if o := &live[i]; o.ID != s.ID {
			m.end(ctx, r, o, audit.ActionLogout, "session_limit")
		}
	}
	return nil
}
