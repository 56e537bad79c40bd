package auth

// # Emergency access (break-glass, 164.312(a)(2)(ii))
//
// A user whose stored roles make them eligible (Role.EligibleRoles in the
// RBAC policy) can elevate their session to an emergency role for a bounded
// time (at most Role.MaxDuration, default one hour) by giving a reason
// (Guard.Elevate, or the elevate handler). The session token is rotated, the
// access is written to the EmergencyLog before it takes effect, an
// emergency_access audit event is recorded (no audit, no access), and
// SessionManager.OnEmergency fires. The reason must say something (at
// least policy.Tenant.EmergencyReasonMinChars letters and digits in
// EmergencyReasonMinWords words, defaults 20 and 3), and a user can elevate
// at most policy.Tenant.MaxEmergenciesPerDay times (default 3) in 24 hours;
// refusals are audited as permission_denied with reason
// "emergency_reason_missing" or "emergency_daily_limit". While it lasts, every audit actor taken
// from the request has Emergency set and carries the reason. The access ends
// when its time runs out (noticed at the next request or by Sweep), when the
// user ends it or logs out, or when the session ends in any other way; the
// end is logged, audited and alerted too. SessionManager.EmergencyReport
// lists accesses for after-the-fact review.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hipaakit/hipaakit/audit"
)

// errEmergencyDenied reports a refused elevation: the role is not an
// emergency role, the user is not eligible, the reason is missing or
// malformed, or the duration is out of bounds.
var errEmergencyDenied = refusal("emergency_denied", "auth: emergency access refused")

// maxEmergencyReason bounds the reason's length in bytes.
const maxEmergencyReason = 500

// EmergencyAccess is the review record of one break-glass elevation.
type EmergencyAccess struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	TenantID  string    `json:"tenant_id,omitempty"`
	SessionID string    `json:"session_id"`
	Role      string    `json:"role"`
	Reason    string    `json:"reason"`
	StartedAt time.Time `json:"started_at"`
	Until     time.Time `json:"until"`
	// EndedAt is zero while the access is active. EndReason says why it
	// ended: "expired", "ended", "logout", "idle_timeout", "user_revoked", ...
	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndReason string    `json:"end_reason,omitempty"`
}

// EmergencyAlert is passed to Config.OnEmergency.
type EmergencyAlert struct {
	// Started is true when the access begins and false when it ends.
	Started bool
	Access  EmergencyAccess
}

// EmergencyLog keeps the review records of emergency accesses. Records are
// never deleted. Implementations are safe for concurrent use.
type EmergencyLog interface {
	// PutEmergencyAccess stores a (creating or replacing the record with a.ID)
	// and returns nil only once it is durable.
	PutEmergencyAccess(ctx context.Context, a EmergencyAccess) error
	// EmergencyAccesses returns the accesses that started in [from, to),
	// oldest first.
	EmergencyAccesses(ctx context.Context, from, to time.Time) ([]EmergencyAccess, error)
}

// validReason reports whether a break-glass reason is acceptable: at most
// 500 bytes of valid UTF-8 without control characters, holding at least
// minChars letters and digits and at least minWords words (runs of two or
// more letters or digits), so that "x" or "asdf" is not a reason.
func validReason(s string, minChars, minWords int) bool {
	if len(s) == 0 || len(s) > maxEmergencyReason || !utf8.ValidString(s) {
		return false
	}
	chars, words, run := 0, 0, 0
	for _, r := range s + " " {
		if unicode.IsControl(r) {
			return false
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			chars++
			run++
			continue
		}
		if run >= 2 {
			words++
		}
		run = 0
	}
	return chars >= minChars && words >= minWords
}

// emergencyMu serialises, within the process, the count of a user's
// elevations of the day and the start of a new one, so that concurrent
// elevations cannot exceed the cap together. Across replicas the count is
// read from the shared EmergencyLog: elevations started at the same instant
// on two replicas can exceed the cap by the number of replicas minus one.
var emergencyMu sync.Mutex

// emergencyWindow is the period MaxEmergenciesPerDay counts over.
const emergencyWindow = 24 * time.Hour

// elevationsToday counts userID's elevations that started in the last 24
// hours and took effect.
func (m *sessionManager) elevationsToday(ctx context.Context, userID string, now time.Time) (int, error) {
	acc, err := m.Emergencies.EmergencyAccesses(ctx, now.Add(-emergencyWindow), now.Add(time.Second))
	if err != nil {
		return 0, fmt.Errorf("auth: read emergency accesses: %w", err)
	}
	n := 0
	for _, a := range acc {
		if a.UserID == userID && a.EndReason != "audit_failed" && a.EndReason != "not_started" {
			n++
		}
	}
	return n, nil
}

// beginEmergency elevates the request's session to role until now+d.
func (m *sessionManager) beginEmergency(w http.ResponseWriter, r *http.Request, st *requestState, role, reason string, d time.Duration) (EmergencyAccess, string, error) {
	ctx := r.Context()
	if st.s.Emergency != nil {
		return EmergencyAccess{}, "", fmt.Errorf("%w: already elevated", errEmergencyDenied)
	}
	id, err := newSessionID()
	if err != nil {
		return EmergencyAccess{}, "", err
	}
	emergencyMu.Lock()
	defer emergencyMu.Unlock()
	now := m.now()
	_, _, perDay := st.policy.EmergencyLimits()
	n, err := m.elevationsToday(ctx, st.s.UserID, now)
	if err != nil {
		return EmergencyAccess{}, "", err
	}
	if n >= perDay {
		m.deny(ctx, r, st.p.Actor(), "emergency_daily_limit")
		return EmergencyAccess{}, "", fmt.Errorf("%w: daily limit of elevations reached", errEmergencyDenied)
	}
	a := EmergencyAccess{ID: id, UserID: st.s.UserID, TenantID: st.s.TenantID, SessionID: st.s.ID,
		Role: role, Reason: reason, StartedAt: now.UTC(), Until: now.Add(d).UTC()}
	if err := m.Emergencies.PutEmergencyAccess(ctx, a); err != nil {
		return EmergencyAccess{}, "", fmt.Errorf("auth: record emergency access: %w", err)
	}
	g := &EmergencyGrant{AccessID: a.ID, Role: role, Reason: reason, StartedAt: a.StartedAt, Until: a.Until}
	actor := st.p.Actor()
	actor.Role, actor.Emergency, actor.EmergencyReason = role, true, reason
	e := m.event(r, actor, audit.ActionEmergencyAccess, audit.OutcomeSuccess, "start")
	e.Attrs = map[string]string{"access_id": a.ID, "until": a.Until.Format(time.RFC3339)}
	if err := m.audit.Write(ctx, e); err != nil {
		a.EndedAt, a.EndReason = now.UTC(), "audit_failed"
		m.Emergencies.PutEmergencyAccess(ctx, a) //nolint:errcheck // best effort; the access never started
		return EmergencyAccess{}, "", fmt.Errorf("auth: audit emergency access: %w", err)
	}
	tok, err := m.rotate(ctx, w, st, func(s *Session) { s.Emergency = g })
	if err != nil {
		a.EndedAt, a.EndReason = now.UTC(), "not_started"
		m.Emergencies.PutEmergencyAccess(ctx, a) //nolint:errcheck // best effort
		return EmergencyAccess{}, "", err
	}
	st.p.Roles = append(st.p.Roles[:len(st.p.Roles):len(st.p.Roles)], role)
	m.alert(ctx, EmergencyAlert{Started: true, Access: a})
	return a, csrfFor(tok), nil
}

// EndEmergency ends the break-glass access of the request's session, if any.
func (m *sessionManager) EndEmergency(w http.ResponseWriter, r *http.Request) error {
	st := stateFrom(r.Context())
	if st == nil {
		return ErrInvalidSession
	}
	if st.s.Emergency == nil {
		return nil
	}
	if err := m.endEmergency(r.Context(), r, &st.s, "ended"); err != nil {
		return err
	}
	st.p.Emergency = nil
	return nil
}

// endEmergency removes the grant from the stored session s and records the end.
func (m *sessionManager) endEmergency(ctx context.Context, r *http.Request, s *Session, reason string) error {
	t := s.Clone()
	t.Emergency = nil
	if err := m.store.UpdateSession(ctx, s.TokenHash, t); err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			return ErrInvalidSession
		}
		return fmt.Errorf("auth: end emergency access: %w", err)
	}
	m.finishEmergency(ctx, s, reason)
	*s = t
	return nil
}

// emergencyEnded reports whether the EmergencyLog records the end of the
// access granted by g. A session's stored grant can outlive the end of its
// access: the activity update of a request that loaded the session before
// the end writes back the whole session it read (its compare-and-swap is on
// the token hash, which ending an access does not change). The log, written
// when the access ends, is then authoritative.
func (m *sessionManager) emergencyEnded(ctx context.Context, g *EmergencyGrant) (bool, error) {
	// A store may keep times at microsecond precision: look around the start.
	acc, err := m.Emergencies.EmergencyAccesses(ctx, g.StartedAt.Add(-time.Second), g.StartedAt.Add(time.Second))
	if err != nil {
		return false, fmt.Errorf("auth: read emergency access: %w", err)
	}
	for _, a := range acc {
		if a.ID == g.AccessID {
			return !a.EndedAt.IsZero(), nil
		}
	}
	return false, nil
}

// dropGrant removes from the stored session s a grant whose access has
// already ended (and was logged, audited and alerted then).
func (m *sessionManager) dropGrant(ctx context.Context, s *Session) error {
	t := s.Clone()
	t.Emergency = nil
	if err := m.store.UpdateSession(ctx, s.TokenHash, t); err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			return ErrInvalidSession // logged out or rotated meanwhile
		}
		return fmt.Errorf("auth: drop ended emergency access: %w", err)
	}
	*s = t
	return nil
}

// finishEmergency logs, audits and alerts the end of s's emergency access.
func (m *sessionManager) finishEmergency(ctx context.Context, s *Session, reason string) {
	g := s.Emergency
	now := m.now().UTC()
	a := EmergencyAccess{ID: g.AccessID, UserID: s.UserID, TenantID: s.TenantID, SessionID: s.ID,
		Role: g.Role, Reason: g.Reason, StartedAt: g.StartedAt, Until: g.Until, EndedAt: now, EndReason: reason}
	if a.EndedAt.After(g.Until) {
		a.EndedAt = g.Until.UTC()
	}
	if err := m.Emergencies.PutEmergencyAccess(ctx, a); err != nil {
		m.logError(ctx, "record end of emergency access", err)
	}
	e := m.event(nil, sessionActor(s), audit.ActionEmergencyAccess, audit.OutcomeSuccess, "end")
	e.Attrs = map[string]string{"access_id": a.ID, "end_reason": reason}
	if err := m.audit.Write(ctx, e); err != nil {
		m.logError(ctx, "audit write", err)
	}
	m.alert(ctx, EmergencyAlert{Started: false, Access: a})
}

func (m *sessionManager) alert(ctx context.Context, a EmergencyAlert) {
	if m.OnEmergency != nil {
		m.OnEmergency(ctx, a)
	}
}

// EmergencyReport returns the emergency accesses that started in
// [from, to), oldest first, for after-the-fact review.
func (m *sessionManager) EmergencyReport(ctx context.Context, from, to time.Time) ([]EmergencyAccess, error) {
	out, err := m.Emergencies.EmergencyAccesses(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("auth: emergency report: %w", err)
	}
	return out, nil
}
