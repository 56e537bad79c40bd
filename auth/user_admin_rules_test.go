package auth

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
)

var adminCfg = func(c *Config) {
	c.AdminRoles = []string{"admin"}
	c.PHIRoles = []string{"nurse", "physician"}
}

func (f *fixture) createAdmin(t testing.TB, name string) *User {
	t.Helper()
	u, err := f.a.CreateUser(t.Context(), NewUser{TenantID: "clinic", Name: name, Roles: []string{"admin"}, Admin: true, Password: goodPassword},
		audit.Actor{UserID: "system:seed"}, audit.Origin{})
	require.NoError(t, err)
	return u
}

func as(u *User) audit.Actor { return audit.Actor{UserID: u.ID, TenantID: u.TenantID} }

// Found in review: an administrator gave itself physician through SetRoles.
func TestNoSelfAdministration(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{RecoveryMethods: []policy.RecoveryMethod{policy.RecoveryCodes, policy.RecoveryAdminReset}})
	require.NoError(t, err)
	f := newFixture(t, func(c *Config) { c.Tenants = tenants })
	a := f.createAdmin(t, "ada")
	f.createAdmin(t, "bea")
	ctx, o := t.Context(), audit.Origin{}
	for name, op := range map[string]func() error{
		"roles":    func() error { return f.a.SetRoles(ctx, a.ID, []string{"admin", "physician"}, as(a), o) },
		"status":   func() error { return f.a.SetStatus(ctx, a.ID, StatusDisabled, as(a), o) },
		"password": func() error { return f.a.SetPassword(ctx, a.ID, "another-long-passphrase-77", as(a), o) },
		"unlock":   func() error { return f.a.Unlock(ctx, a.ID, as(a), o) },
		"mfa":      func() error { return f.a.AdminResetMFA(ctx, a.ID, as(a), o) },
		"approve":  func() error { return f.a.ApproveRoles(ctx, a.ID, as(a), o) },
	} {
		before, _ := f.users.Get(ctx, a.ID)
		require.ErrorIs(t, op(), errSelfAdministration, name)
		ev := f.log.last()
		require.Equal(t, audit.OutcomeFailure, ev.Outcome, name)
		require.Equal(t, "self_administration", ev.Reason, name)
		after, _ := f.users.Get(ctx, a.ID)
		require.Equal(t, before.Version, after.Version, "%s: nothing stored", name)
	}
}

func TestLastAdministratorKept(t *testing.T) {
	f := newFixture(t, adminCfg)
	ctx, o := t.Context(), audit.Origin{}
	a, b := f.createAdmin(t, "ada"), f.createAdmin(t, "bea")
	require.NoError(t, f.a.SetStatus(ctx, b.ID, StatusDisabled, as(a), o), "another administrator remains")
	// b is gone: no change may take a, whoever asks.
	n := f.rev.n()
	require.ErrorIs(t, f.a.SetStatus(ctx, a.ID, StatusDisabled, as(b), o), errLastAdministrator)
	require.Equal(t, "last_administrator", f.log.last().Reason)
	require.Equal(t, audit.OutcomeFailure, f.log.last().Outcome)
	require.ErrorIs(t, f.a.SetStatus(ctx, a.ID, StatusRemoved, as(b), o), errLastAdministrator)
	require.ErrorIs(t, f.a.SetRoles(ctx, a.ID, nil, as(b), o), errLastAdministrator)
	require.Equal(t, n, f.rev.n(), "no sessions ended")
	got, err := f.users.Get(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, StatusActive, got.Status)
	require.Equal(t, []string{"admin"}, got.Roles)
	// With b active again, a can be removed.
	require.NoError(t, f.a.SetStatus(ctx, b.ID, StatusActive, audit.Actor{UserID: "system:seed"}, o))
	require.NoError(t, f.a.SetStatus(ctx, a.ID, StatusRemoved, as(b), o))
	got, _ = f.users.Get(ctx, a.ID)
	require.Equal(t, StatusRemoved, got.Status)
}

// Two administrators disable each other at once in one process: exactly one wins.
func TestLastAdministratorConcurrent(t *testing.T) {
	f := newFixture(t, adminCfg)
	a, b := f.createAdmin(t, "ada"), f.createAdmin(t, "bea")
	var start, done sync.WaitGroup
	start.Add(1)
	errs := make([]error, 2)
	for i, pair := range [][2]*User{{a, b}, {b, a}} {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = f.a.SetStatus(context.Background(), pair[1].ID, StatusDisabled, as(pair[0]), audit.Origin{})
		}()
	}
	start.Done()
	done.Wait()
	ok, last := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case err == errLastAdministrator:
			last++
		default:
			t.Fatal(err)
		}
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 1, last)
	have, err := f.a.otherAdministrator(t.Context(), "clinic", "")
	require.NoError(t, err)
	require.True(t, have)
}

// pausingUsers lets two replicas read before either writes and write before
// either checks again: the interleaving where both pre-checks pass.
type pausingUsers struct {
	UserStore
	mu                        sync.Mutex
	cond                      *sync.Cond
	lists, updates, postReads int
}

func (p *pausingUsers) List(ctx context.Context, tenantID string) ([]*User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lists++
	p.cond.Broadcast()
	if p.lists <= 2 {
		return p.UserStore.List(ctx, tenantID)
	}
	// The checks after the writes: both read once both writes are stored,
	// and neither goes on before the other has read.
	for p.updates < 2 {
		p.cond.Wait()
	}
	us, err := p.UserStore.List(ctx, tenantID)
	p.postReads++
	p.cond.Broadcast()
	for p.postReads < 2 {
		p.cond.Wait()
	}
	return us, err
}

func (p *pausingUsers) Update(ctx context.Context, u *User) error {
	p.mu.Lock()
	for p.lists < 2 {
		p.cond.Wait()
	}
	p.mu.Unlock()
	err := p.UserStore.Update(ctx, u)
	p.mu.Lock()
	p.updates++
	p.cond.Broadcast()
	p.mu.Unlock()
	return err
}

// Two replicas (two Authenticators, one store) disable each other's last
// administrator in the worst interleaving: the check after the write undoes
// both, and the tenant keeps both administrators.
func TestLastAdministratorAcrossReplicas(t *testing.T) {
	f := newFixture(t, adminCfg)
	a, b := f.createAdmin(t, "ada"), f.createAdmin(t, "bea")
	p := &pausingUsers{UserStore: f.users}
	p.cond = sync.NewCond(&p.mu)
	replica := func() *authenticator {
		r, err := NewAuthenticator(Config{Users: p, Audit: f.log, hasher: testHasher(t), Clock: f.clk,
			AdminRoles: []string{"admin"}}, f.rev)
		require.NoError(t, err)
		return r
	}
	r1, r2 := replica(), replica()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, c := range []struct {
		r          *authenticator
		by, target *User
	}{{r1, a, b}, {r2, b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.r.SetStatus(context.Background(), c.target.ID, StatusDisabled, as(c.by), audit.Origin{})
		}()
	}
	wg.Wait()
	require.ErrorIs(t, errs[0], errLastAdministrator)
	require.ErrorIs(t, errs[1], errLastAdministrator)
	for _, u := range []*User{a, b} {
		got, err := f.users.Get(t.Context(), u.ID)
		require.NoError(t, err)
		require.Equal(t, StatusActive, got.Status, "restored")
	}
	require.Equal(t, 0, f.log.count(audit.ActionUserChanged, "disabled"), "no success audited")
	require.Equal(t, 2, f.log.count(audit.ActionUserChanged, "last_administrator"))
}

func TestPHIRolesNeverOnAdminIdentity(t *testing.T) {
	_, err := NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: &auditLog{}, AdminRoles: []string{"admin", "physician"},
		PHIRoles: []string{"physician"}}, nil)
	require.ErrorIs(t, err, policy.ErrInvalid)

	f := newFixture(t, adminCfg)
	a, b := f.createAdmin(t, "ada"), f.createAdmin(t, "bea")
	require.ErrorIs(t, f.a.SetRoles(t.Context(), a.ID, []string{"admin", "physician"}, as(b), audit.Origin{}), ErrInvalidUser)
	_, err = f.a.CreateUser(t.Context(), NewUser{TenantID: "clinic", Name: "cy", Admin: true, Roles: []string{"nurse"}},
		audit.Actor{UserID: "system:seed"}, audit.Origin{})
	require.ErrorIs(t, err, ErrInvalidUser)
}

func TestPHIGrantNeedsSecondAdministrator(t *testing.T) {
	dir := t.TempDir()
	fs, err := MemStores.FileUsers(dir)
	require.NoError(t, err)
	tenants, err := policy.NewTenants(policy.Tenant{ApprovePHIGrants: true})
	require.NoError(t, err)
	f := newFixture(t, adminCfg, func(c *Config) {
		c.Tenants = tenants
		c.Users = fs
	})
	ctx, o := t.Context(), audit.Origin{}
	a, b := f.createAdmin(t, "ada"), f.createAdmin(t, "bea")
	u, err := f.a.CreateUser(ctx, NewUser{TenantID: "clinic", Name: "lab", Roles: []string{"lab"}}, as(a), o)
	require.NoError(t, err)

	// A grant without a PHI role applies at once.
	require.NoError(t, f.a.SetRoles(ctx, u.ID, []string{"lab", "scheduler"}, as(a), o))
	require.ErrorIs(t, f.a.ApproveRoles(ctx, u.ID, as(b), o), errNoRoleRequest)

	require.ErrorIs(t, f.a.SetRoles(ctx, u.ID, []string{"physician"}, as(a), o), errApprovalPending)
	ev := f.log.last()
	require.Equal(t, audit.ActionRoleChanged, ev.Action)
	require.Equal(t, "approval_requested", ev.Reason)
	require.Equal(t, audit.OutcomeSuccess, ev.Outcome)
	got, err := fs.Get(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"lab", "scheduler"}, got.Roles, "nothing granted yet")

	// The request survives a restart of the file store.
	require.NoError(t, fs.Close())
	fs2, err := MemStores.FileUsers(dir)
	require.NoError(t, err)
	t.Cleanup(func() { fs2.Close() })
	got, err = fs2.Get(ctx, u.ID)
	require.NoError(t, err)
	require.NotNil(t, got.RoleRequest)
	require.Equal(t, []string{"physician"}, got.RoleRequest.Roles)
	require.Equal(t, a.ID, got.RoleRequest.RequestedBy)
	f.a.users, f.a.cfg.Users = fs2, fs2

	pending, err := f.a.RoleRequests(ctx, "clinic")
	require.NoError(t, err)
	require.Len(t, pending, 1)

	require.ErrorIs(t, f.a.ApproveRoles(ctx, u.ID, as(a), o), errSecondApproverRequired)
	require.Equal(t, "second_administrator_required", f.log.last().Reason)
	require.Equal(t, audit.OutcomeFailure, f.log.last().Outcome)
	require.ErrorIs(t, f.a.ApproveRoles(ctx, u.ID, as(u), o), errSelfAdministration)

	require.NoError(t, f.a.ApproveRoles(ctx, u.ID, as(b), o))
	ev = f.log.last()
	require.Equal(t, "approved", ev.Reason)
	require.Equal(t, b.ID, ev.Actor.UserID)
	require.Equal(t, a.ID, ev.Attrs["requested_by"])
	got, _ = fs2.Get(ctx, u.ID)
	require.Equal(t, []string{"physician"}, got.Roles)
	require.Nil(t, got.RoleRequest)
	require.ErrorIs(t, f.a.ApproveRoles(ctx, u.ID, as(b), o), errNoRoleRequest, "approved once")
}
