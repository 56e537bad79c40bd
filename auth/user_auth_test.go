package auth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/auth/totp"
	"github.com/hipaakit/hipaakit/clock"
)

// auditLog records events for assertions.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
	fail   error
}

func (l *auditLog) Write(_ context.Context, e audit.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.events = append(l.events, e)
	return nil
}

func (l *auditLog) last() audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events[len(l.events)-1]
}

func (l *auditLog) count(action audit.Action, reason string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if (action == "" || e.Action == action) && (reason == "" || e.Reason == reason) {
			n++
		}
	}
	return n
}

// revokes records RevokeUser calls.
type revokes struct {
	mu    sync.Mutex
	users []string
}

func (r *revokes) RevokeUser(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, id)
	return nil
}

func (r *revokes) n() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.users) }

type fixture struct {
	a     *authenticator
	users UserStore
	log   *auditLog
	rev   *revokes
	clk   *clock.Fake
}

var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newFixture(t testing.TB, mod ...func(*Config)) *fixture {
	t.Helper()
	return newFixtureWith(t, func(f *fixture) sessionRevoker { return f.rev }, mod...)
}

// newFixtureRevoking is newFixture with rev ending sessions instead of the
// recording f.rev.
func newFixtureRevoking(t testing.TB, rev sessionRevoker, mod ...func(*Config)) *fixture {
	t.Helper()
	return newFixtureWith(t, func(*fixture) sessionRevoker { return rev }, mod...)
}

// newFixtureWith builds the fixture's Authenticator with the revoker rev
// returns (nil: none).
func newFixtureWith(t testing.TB, rev func(*fixture) sessionRevoker, mod ...func(*Config)) *fixture {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := NewKeySealer(key)
	require.NoError(t, err)
	f := &fixture{users: NewMemoryUserStore(), log: &auditLog{}, rev: &revokes{}, clk: clock.NewFake(testEpoch)}
	cfg := Config{Users: f.users, Audit: f.log, Sealer: sealer, hasher: testHasher(t), Clock: f.clk}
	for _, m := range mod {
		m(&cfg)
	}
	f.a, err = NewAuthenticator(cfg, rev(f))
	require.NoError(t, err)
	return f
}

const goodPassword = "violet-harbor-lantern-42"

func (f *fixture) create(t testing.TB, name string) *User {
	t.Helper()
	u, err := f.a.CreateUser(t.Context(), NewUser{TenantID: "clinic", Name: name, Roles: []string{"nurse"}, Password: goodPassword},
		audit.Actor{UserID: "admin"}, audit.Origin{})
	require.NoError(t, err)
	return u
}

func (f *fixture) login(t testing.TB, name, pw string) (*LoginResult, error) {
	t.Helper()
	return f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: name, Password: pw, ClientKey: "10.0.0.1"})
}

func TestNewAuthenticatorValidates(t *testing.T) {
	_, err := NewAuthenticator(Config{Audit: audit.Discard{}}, nil)
	require.Error(t, err)
	_, err = NewAuthenticator(Config{Users: NewMemoryUserStore()}, nil)
	require.Error(t, err)
	_, err = NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: audit.Discard{}, Lockout: LockoutConfig{MaxFailures: 101}}, nil)
	require.Error(t, err)
	_, err = NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: audit.Discard{}, TOTP: totp.Config{Digits: 7}}, nil)
	require.Error(t, err)
	_, err = NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: audit.Discard{}, ChallengeKey: []byte("short")}, nil)
	require.Error(t, err)
	bad := password.DefaultPolicy()
	bad.MinLength = 4
	_, err = NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: audit.Discard{}, Passwords: bad}, nil)
	require.Error(t, err)
	a, err := NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: audit.Discard{}}, nil)
	require.NoError(t, err)
	require.Equal(t, password.DefaultArgon2Params(), a.hasher.Params())
	require.Equal(t, 10, a.cfg.Lockout.MaxFailures)
	require.Equal(t, 1, a.cfg.TOTP.Skew)
}

func TestCreateUser(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.create(t, "  Nurse.Joy@Example.org ")
	require.True(t, ValidUserID(u.ID))
	require.Equal(t, "nurse.joy@example.org", u.Name)
	require.Equal(t, int64(1), u.Version)
	require.NotEmpty(t, u.PasswordHash)
	require.Equal(t, audit.ActionUserChanged, f.log.last().Action)
	require.Equal(t, u.ID, f.log.last().Target.RecordID)

	_, err := f.a.CreateUser(ctx, NewUser{TenantID: "clinic", Name: "NURSE.JOY@example.org"}, audit.Actor{}, audit.Origin{})
	require.ErrorIs(t, err, ErrUserExists)
	_, err = f.a.CreateUser(ctx, NewUser{TenantID: "clinic", Name: "weak", Password: "password"}, audit.Actor{}, audit.Origin{})
	require.ErrorIs(t, err, password.ErrWeak)
	_, err = f.a.CreateUser(ctx, NewUser{TenantID: "clinic", Name: "ctx", Password: "ctx-clinic-staff-2026"}, audit.Actor{}, audit.Origin{})
	require.ErrorIs(t, err, password.ErrWeak, "tenant name is a context word")
	_, err = f.a.CreateUser(ctx, NewUser{TenantID: "bad tenant", Name: "x"}, audit.Actor{}, audit.Origin{})
	require.ErrorIs(t, err, ErrInvalidUser)
}

func TestLoginSuccessAndFailureLookAlike(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, "alice")
	res, err := f.login(t, "ALICE", goodPassword)
	require.NoError(t, err)
	require.True(t, res.Authenticated)
	require.False(t, res.MFA)
	require.Equal(t, u.ID, res.User.ID)
	ev := f.log.last()
	require.Equal(t, audit.ActionLogin, ev.Action)
	require.Equal(t, u.ID, ev.Actor.UserID)

	_, errWrong := f.login(t, "alice", "not-the-password-at-all")
	require.Equal(t, "wrong_password", f.log.last().Reason)
	_, errUnknown := f.login(t, "mallory", goodPassword)
	require.Equal(t, "unknown_user", f.log.last().Reason)
	require.Empty(t, f.log.last().Actor.UserID)
	_, errTenant := f.a.Login(t.Context(), LoginRequest{TenantID: "other", Name: "alice", Password: goodPassword})
	_, errBadTenant := f.a.Login(t.Context(), LoginRequest{TenantID: "bad tenant\n", Name: "alice", Password: goodPassword})
	require.Equal(t, errWrong, errBadTenant)
	require.Empty(t, f.log.last().Actor.TenantID, "malformed tenant input stays out of the audit trail")
	require.Equal(t, errWrong, errUnknown)
	require.Equal(t, errWrong, errTenant)
	require.ErrorIs(t, errWrong, ErrInvalidCredentials)

	require.NoError(t, f.a.SetStatus(t.Context(), u.ID, StatusDisabled, audit.Actor{}, audit.Origin{}))
	_, err = f.login(t, "alice", goodPassword)
	require.ErrorIs(t, err, ErrInvalidCredentials)
	require.Equal(t, "user_inactive", f.log.last().Reason)
}

// Unknown users and wrong passwords take the same path: both cost one hash.
func TestLoginUnknownUserCostsOneHash(t *testing.T) {
	f := newFixture(t)
	f.create(t, "alice")
	// A hasher whose every hash waits for the context: a login that hashes
	// must then fail with the context's error, whether or not the user
	// exists, after exactly one hash.
	held := &heldHasher{passwordHasher: f.a.hasher}
	f.a.hasher = held
	for i, name := range []string{"alice", "nobody"} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		_, err := f.a.Login(ctx, LoginRequest{TenantID: "clinic", Name: name, Password: "whatever-it-is"})
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, name)
		require.Equal(t, int64(i+1), held.verifies.Load(), name)
	}
}

// heldHasher counts Verify calls and holds each until its context ends.
type heldHasher struct {
	passwordHasher
	verifies atomic.Int64
}

func (h *heldHasher) Verify(ctx context.Context, _, _ string) (bool, bool, error) {
	h.verifies.Add(1)
	<-ctx.Done()
	return false, false, ctx.Err()
}

func TestLoginRehashesOutdatedHash(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, "alice")
	p := f.a.hasher.Params()
	p.Time = 2
	h, err := password.NewHasher(password.HasherConfig{Params: p, MaxConcurrent: 1})
	require.NoError(t, err)
	f.a.hasher = h
	_, err = f.login(t, "alice", goodPassword)
	require.NoError(t, err)
	stored, err := f.users.Get(t.Context(), u.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=8192,t=2,p=1$"), stored.PasswordHash)
	_, err = f.login(t, "alice", goodPassword)
	require.NoError(t, err)
}

func TestLockoutAfterMaxFailures(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{PermanentLockout: true})
	require.NoError(t, err)
	f := newFixture(t, func(c *Config) {
		c.Lockout = LockoutConfig{MaxFailures: 5, FreeFailures: 2, BaseDelay: time.Second, MaxDelay: time.Minute}
		c.Tenants = tenants
	})
	u := f.create(t, "bob")
	for i := range 5 {
		_, err := f.login(t, "bob", "wrong-password-attempt")
		require.ErrorIs(t, err, ErrInvalidCredentials, i)
		f.clk.Advance(2 * time.Minute) // beyond any back-off
	}
	stored, _ := f.users.Get(t.Context(), u.ID)
	require.True(t, stored.Lockout.Locked())
	require.Equal(t, 5, stored.Lockout.Failures)
	require.Equal(t, 1, f.log.count(audit.ActionLockout, "max_failures"))

	_, err = f.login(t, "bob", goodPassword)
	require.ErrorIs(t, err, ErrInvalidCredentials, "locked: even the right password fails")
	require.Equal(t, "account_locked", f.log.last().Reason)

	require.NoError(t, f.a.Unlock(t.Context(), u.ID, audit.Actor{UserID: "admin"}, audit.Origin{}))
	require.Equal(t, "unlocked", f.log.last().Reason)
	res, err := f.login(t, "bob", goodPassword)
	require.NoError(t, err)
	require.True(t, res.Authenticated)
}

func TestLockoutResetOnSuccessAndBackoff(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Lockout = LockoutConfig{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: 8 * time.Second}
	})
	u := f.create(t, "carol")
	_, err := f.login(t, "carol", "wrong-1-wrong-1")
	require.ErrorIs(t, err, ErrInvalidCredentials)
	_, err = f.login(t, "carol", "wrong-2-wrong-2")
	require.ErrorIs(t, err, ErrInvalidCredentials)
	// Third attempt at once: back-off of 1s after 2 free failures.
	_, err = f.login(t, "carol", goodPassword)
	var te *ThrottledError
	require.ErrorAs(t, err, &te)
	require.ErrorIs(t, err, ErrThrottled)
	require.Equal(t, time.Second, te.RetryAfter)
	require.Equal(t, "auth: too many failed attempts; retry in 1s", err.Error())
	require.Equal(t, "throttled", f.log.last().Reason)
	f.clk.Advance(time.Second)
	_, err = f.login(t, "carol", goodPassword)
	require.NoError(t, err)
	stored, _ := f.users.Get(t.Context(), u.ID)
	require.Equal(t, LockoutState{}, stored.Lockout, "success resets the counter")

	// Unknown names back off exactly like known ones.
	for range 2 {
		_, err = f.login(t, "ghost", "wrong-password-x")
		require.ErrorIs(t, err, ErrInvalidCredentials)
	}
	_, err = f.login(t, "ghost", "wrong-password-x")
	require.ErrorIs(t, err, ErrThrottled)

	// Back-off doubles and is capped.
	c := f.a.cfg.Lockout
	require.Equal(t, time.Duration(0), c.backoff(1, 2))
	require.Equal(t, time.Second, c.backoff(2, 2))
	require.Equal(t, 2*time.Second, c.backoff(3, 2))
	require.Equal(t, 8*time.Second, c.backoff(50, 2))
}

func TestClientThrottle(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Lockout = LockoutConfig{ClientFreeFailures: 3, FreeFailures: 50, MaxFailures: 100} })
	f.create(t, "dave")
	for i := range 3 {
		_, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: "user" + string(rune('a'+i)), Password: "x-wrong-password", ClientKey: "203.0.113.9"})
		require.ErrorIs(t, err, ErrInvalidCredentials)
	}
	_, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: "dave", Password: goodPassword, ClientKey: "203.0.113.9"})
	require.ErrorIs(t, err, ErrThrottled, "the spraying client waits")
	_, err = f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: "dave", Password: goodPassword, ClientKey: "198.51.100.7"})
	require.NoError(t, err, "another client is unaffected")
}

func TestThrottleBounded(t *testing.T) {
	th := NewMemoryAttemptStore(100)
	ctx := t.Context()
	count := func(int, time.Time) time.Duration { return 0 }
	for i := range 1000 {
		_, err := th.Reserve(ctx, attemptKey(string(rune(0x4e00+i))), testEpoch, time.Hour, count)
		require.NoError(t, err)
	}
	require.LessOrEqual(t, th.Len(), 100)
	_, err := th.Reserve(ctx, "k", testEpoch, time.Hour, count)
	require.NoError(t, err)
	var seen int
	_, err = th.Reserve(ctx, "k", testEpoch.Add(2*time.Hour), time.Hour, func(n int, _ time.Time) time.Duration { seen = n; return 0 })
	require.NoError(t, err)
	require.Equal(t, 0, seen, "forgotten after ForgetAfter")
}

func TestSetStatusRevokesSessions(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, "erin")
	require.NoError(t, f.a.SetStatus(t.Context(), u.ID, StatusDisabled, audit.Actor{}, audit.Origin{}))
	require.Equal(t, []string{u.ID}, f.rev.users)
	require.NoError(t, f.a.SetStatus(t.Context(), u.ID, StatusActive, audit.Actor{}, audit.Origin{}))
	require.Equal(t, 1, f.rev.n())
	require.NoError(t, f.a.SetStatus(t.Context(), u.ID, StatusRemoved, audit.Actor{}, audit.Origin{}))
	require.Equal(t, 2, f.rev.n())
	gone, err := f.users.Get(t.Context(), u.ID)
	require.NoError(t, err)
	require.Empty(t, gone.PasswordHash, "credentials of a removed user are erased")
	require.Equal(t, MFA{}, gone.MFA)
	require.ErrorIs(t, f.a.SetStatus(t.Context(), u.ID, StatusActive, audit.Actor{}, audit.Origin{}), ErrInvalidUser)
	// The name is free again for a new identity with a new ID.
	u2 := f.create(t, "erin")
	require.NotEqual(t, u.ID, u2.ID)

	noRev := newFixtureRevoking(t, nil)
	v := noRev.create(t, "frank")
	require.Error(t, noRev.a.SetStatus(t.Context(), v.ID, StatusDisabled, audit.Actor{}, audit.Origin{}), "fails closed without a revoker")
}

func TestSetRolesAndPasswords(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.create(t, "gina")
	require.NoError(t, f.a.SetRoles(ctx, u.ID, []string{"physician", "nurse", "physician"}, audit.Actor{}, audit.Origin{}))
	got, _ := f.users.Get(ctx, u.ID)
	require.Equal(t, []string{"nurse", "physician"}, got.Roles)
	require.Equal(t, audit.ActionRoleChanged, f.log.last().Action)

	err := f.a.ChangePassword(ctx, ChangePasswordRequest{UserID: u.ID, CurrentPassword: "wrong-current-pw", NewPassword: "meadow-copper-sail-19"})
	require.ErrorIs(t, err, ErrInvalidCredentials)
	err = f.a.ChangePassword(ctx, ChangePasswordRequest{UserID: u.ID, CurrentPassword: goodPassword, NewPassword: "short"})
	require.ErrorIs(t, err, password.ErrWeak)
	before := f.rev.n()
	f.clk.Advance(time.Minute)
	err = f.a.ChangePassword(ctx, ChangePasswordRequest{UserID: u.ID, CurrentPassword: goodPassword, NewPassword: "meadow-copper-sail-19"})
	require.NoError(t, err)
	require.Equal(t, before+1, f.rev.n(), "other sessions end")
	require.Equal(t, audit.ActionPasswordChanged, f.log.last().Action)
	_, err = f.login(t, "gina", goodPassword)
	require.ErrorIs(t, err, ErrInvalidCredentials)
	_, err = f.login(t, "gina", "meadow-copper-sail-19")
	require.NoError(t, err)

	require.NoError(t, f.a.SetPassword(ctx, u.ID, "admin-reset-lichen-77", audit.Actor{UserID: "admin"}, audit.Origin{}))
	require.Equal(t, "reset", f.log.last().Reason)
	_, err = f.login(t, "gina", "admin-reset-lichen-77")
	require.NoError(t, err)
}

func TestPasswordMaxAge(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Passwords = password.DefaultPolicy()
		c.Passwords.MaxAge = 90 * 24 * time.Hour
	})
	f.create(t, "hank")
	res, err := f.login(t, "hank", goodPassword)
	require.NoError(t, err)
	require.False(t, res.PasswordExpired)
	f.clk.Advance(91 * 24 * time.Hour)
	res, err = f.login(t, "hank", goodPassword)
	require.NoError(t, err)
	require.True(t, res.PasswordExpired)
}

// No audit, no access: a login whose event cannot be written fails.
func TestLoginFailsWithoutAudit(t *testing.T) {
	f := newFixture(t)
	f.create(t, "ivan")
	f.log.fail = errors.New("disk full")
	_, err := f.login(t, "ivan", goodPassword)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrInvalidCredentials)
}

func TestTenantPasswordPolicy(t *testing.T) {
	strict := password.DefaultPolicy()
	strict.MinLength = 20
	tenants, err := policy.NewTenants(policy.Tenant{}, policy.Tenant{TenantID: "clinic", PasswordPolicy: "strict"})
	require.NoError(t, err)
	f := newFixture(t, func(c *Config) {
		c.PasswordPolicies = map[string]password.Policy{"strict": strict}
		c.Tenants = tenants
	})
	_, err = f.a.CreateUser(t.Context(), NewUser{TenantID: "clinic", Name: "jo", Password: "nineteen-chars-pw-x"}, audit.Actor{}, audit.Origin{})
	require.ErrorIs(t, err, password.ErrWeak)
	f.create(t, "jo")
}

func jsonMarshalForTest(v any) ([]byte, error) { return json.Marshal(v) }

// Disabling or removing a user through the Authenticator ends the user's
// sessions in the SessionManager at once.
func TestSetStatusEndsSessionManagerSessions(t *testing.T) {
	ctx := t.Context()
	sessions := NewMemorySessionStore()
	var sm *sessionManager
	f := newFixtureRevoking(t, sessionRevokerFunc(func(ctx context.Context, id string) error { return sm.RevokeUser(ctx, id) }))
	sm = NewSessionManager(sessions, f.users, f.log)
	sm.Clock = f.clk
	for _, status := range []Status{StatusDisabled, StatusRemoved} {
		u := f.create(t, "sid-"+string(status))
		for range 2 {
			_, _, err := sm.Begin(ctx, httptest.NewRecorder(), nil, u, false)
			require.NoError(t, err)
		}
		ss, err := sessions.ListUserSessions(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, ss, 2)
		require.NoError(t, f.a.SetStatus(ctx, u.ID, status, audit.Actor{UserID: "admin"}, audit.Origin{}))
		ss, err = sessions.ListUserSessions(ctx, u.ID)
		require.NoError(t, err)
		require.Empty(t, ss, status)
	}
	var _ sessionRevoker = sm // the SessionManager is a SessionRevoker
}

func TestAdminRolesNeedAdminIdentity(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AdminRoles = []string{"user-admin", "security-officer"} })
	ctx := t.Context()
	_, err := f.a.CreateUser(ctx, NewUser{TenantID: "clinic", Name: "pam", Roles: []string{"nurse", "user-admin"}}, audit.Actor{}, audit.Origin{})
	require.ErrorIs(t, err, ErrInvalidUser)
	_, err = f.a.CreateUser(ctx, NewUser{TenantID: "clinic", Name: "pam-admin", Admin: true, Roles: []string{"nurse"}}, audit.Actor{}, audit.Origin{})
	require.ErrorIs(t, err, ErrInvalidUser)
	adm, err := f.a.CreateUser(ctx, NewUser{TenantID: "clinic", Name: "pam-admin", Admin: true, Roles: []string{"user-admin"}}, audit.Actor{}, audit.Origin{})
	require.NoError(t, err)
	require.True(t, adm.Admin)
	u := f.create(t, "pam")
	require.ErrorIs(t, f.a.SetRoles(ctx, u.ID, []string{"security-officer"}, audit.Actor{}, audit.Origin{}), ErrInvalidUser)
	require.NoError(t, f.a.SetRoles(ctx, adm.ID, []string{"security-officer", "user-admin"}, audit.Actor{}, audit.Origin{}))
	require.ErrorIs(t, f.a.SetRoles(ctx, adm.ID, []string{"physician"}, audit.Actor{}, audit.Origin{}), ErrInvalidUser)
}

func TestLoginRequestJSON(t *testing.T) {
	b, err := json.Marshal(LoginRequest{TenantID: "t", Name: "a\x00\"b", Password: "secret-pass-word"})
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, map[string]string{"tenant_id": "t", "name": "a\x00\"b"}, m)
}

// A password change ends the user's other sessions and keeps the one it was
// made from (SessionManager.RevokeOtherSessions).
func TestChangePasswordKeepsCurrentSession(t *testing.T) {
	ctx := t.Context()
	sessions := NewMemorySessionStore()
	var sm *sessionManager
	f := newFixtureRevoking(t, lateRevoker{&sm})
	sm = NewSessionManager(sessions, f.users, f.log)
	sm.Clock = f.clk
	u := f.create(t, "xena")
	keep, _, err := sm.Begin(ctx, httptest.NewRecorder(), nil, u, false)
	require.NoError(t, err)
	_, _, err = sm.Begin(ctx, httptest.NewRecorder(), nil, u, false)
	require.NoError(t, err)
	require.NoError(t, f.a.ChangePassword(ctx, ChangePasswordRequest{UserID: u.ID, CurrentPassword: goodPassword,
		NewPassword: "quartz-willow-ember-55", KeepSessionID: keep.ID}))
	ss, err := sessions.ListUserSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, ss, 1)
	require.Equal(t, keep.ID, ss[0].ID)
}

// lateRevoker forwards to a SessionManager created after the Authenticator.
type lateRevoker struct{ sm **sessionManager }

func (l lateRevoker) RevokeUser(ctx context.Context, id string) error {
	return (*l.sm).RevokeUser(ctx, id)
}

func (l lateRevoker) RevokeOtherSessions(ctx context.Context, id, keep string) (int, error) {
	return (*l.sm).RevokeOtherSessions(ctx, id, keep)
}

func TestLatencyPad(t *testing.T) {
	var p latencyPad
	p.pad(t.Context()) // nothing observed: no wait
	p.observe(40 * time.Millisecond)
	require.Equal(t, int64(40*time.Millisecond), p.ewma.Load())
	for range 50 {
		p.observe(8 * time.Millisecond)
	}
	require.InDelta(t, float64(8*time.Millisecond), float64(p.ewma.Load()), float64(time.Millisecond))
	p.observe(time.Hour)
	require.LessOrEqual(t, p.ewma.Load(), int64(maxPad), "capped")

	p.ewma.Store(int64(30 * time.Millisecond))
	start := time.Now()
	p.pad(t.Context())
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p.ewma.Store(int64(time.Minute))
	start = time.Now()
	p.pad(ctx)
	require.Less(t, time.Since(start), time.Second, "a canceled context ends the wait")
}

// A failed login of an unknown name waits as long as a known account's
// failure write takes.
func TestUnknownUserFailurePadded(t *testing.T) {
	slow := &slowUpdates{UserStore: NewMemoryUserStore(), delay: 40 * time.Millisecond}
	f := newFixture(t, func(c *Config) { c.Users = slow })
	f.create(t, "yara")
	_, err := f.login(t, "yara", "wrong-password-1")
	require.ErrorIs(t, err, ErrInvalidCredentials)
	start := time.Now()
	_, err = f.login(t, "no-such-user", "wrong-password-1")
	require.ErrorIs(t, err, ErrInvalidCredentials)
	require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)
}

// slowUpdates delays every Update, like a store that fsyncs.
type slowUpdates struct {
	UserStore
	delay time.Duration
}

func (s *slowUpdates) Update(ctx context.Context, u *User) error {
	time.Sleep(s.delay)
	return s.UserStore.Update(ctx, u)
}

func TestClientThrottleKeyBounded(t *testing.T) {
	require.Equal(t, "c\x0010.0.0.1", clientThrottleKey("10.0.0.1"))
	long := strings.Repeat("x", 10_000)
	k := clientThrottleKey(long)
	require.Len(t, k, 2+32)
	require.Equal(t, k, clientThrottleKey(long))
	require.NotEqual(t, k, clientThrottleKey(long+"y"))
}
