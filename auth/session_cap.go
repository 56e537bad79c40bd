package auth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// capSessions enforces p.MaxSessionsPerUser after the new session s was
// stored: s stays, and of the user's other live sessions, ordered oldest
// first (creation time, then ID), all but the newest MaxSessionsPerUser-1
// end, each with a logout event (reason session_limit). When logins race
// (on several replicas), the last to list sees every session and brings
// the count down to the cap; a session two of them end is recorded once.
// With a cap of 1, racing logins may end each other's sessions (fewer
// sessions, never more).
// If the user's sessions cannot be listed, s is deleted again and the login
// fails: the cap is not silently skipped.
func (m *sessionManager) capSessions(ctx context.Context, r *http.Request, p *policy.Tenant, s *Session) error {
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
	others := all[:0]
	for _, o := range all {
		if o.ID != s.ID && o.ExpiresAt.After(now) { // expired ones are the sweeper's
			others = append(others, o)
		}
	}
	slices.SortStableFunc(others, func(a, b Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i := 0; i < len(others)-(limit-1); i++ {
		m.end(ctx, r, &others[i], audit.ActionLogout, "session_limit")
	}
	return nil
}
