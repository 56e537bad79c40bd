package authtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
)

// UserStoreFactory returns a new, empty store for one subtest. The factory
// arranges its own cleanup with t.Cleanup.
type UserStoreFactory func(t *testing.T) auth.UserStore

// RunUserStore runs the UserStore conformance suite against the stores
// newStore returns. Every implementation of auth.UserStore must pass it; it
// checks the contract written on the interface, including compare-and-swap
// under concurrency.
func RunUserStore(t *testing.T, newStore UserStoreFactory) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, st auth.UserStore)
	}{
		{"CreateAndGet", userCreateAndGet},
		{"RoundTripsEveryField", userRoundTrip},
		{"CreateDuplicate", userCreateDuplicate},
		{"NotFound", userNotFound},
		{"InvalidRejected", userInvalid},
		{"UpdateCompareAndSwap", userUpdateCAS},
		{"UpdateRules", userUpdateRules},
		{"RemovedFreesName", userRemovedFreesName},
		{"List", userList},
		{"ReturnsCopies", userCopies},
		{"ConcurrentUpdates", userConcurrentUpdates},
		{"ConcurrentCreateSameName", userConcurrentCreate},
		{"CanceledContext", userCanceled},
		{"Passkeys", userPasskeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// userEpoch is a fixed time with microsecond precision, which every store
// (PostgreSQL's timestamptz included) keeps exactly.
var userEpoch = time.Date(2026, 3, 1, 9, 30, 15, 123456000, time.UTC)

// NewUser returns a valid active user of tenantID with the canonical name
// and a fresh ID, for tests.
func NewUser(tenantID, name string) *auth.User {
	c, err := auth.CanonicalName(name)
	if err != nil {
		panic("authtest: NewUser: " + err.Error())
	}
	return &auth.User{ID: auth.NewUserID(), TenantID: tenantID, Name: c, Status: auth.StatusActive,
		Roles: []string{"clinician"}, CreatedAt: userEpoch, UpdatedAt: userEpoch}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// sameUser compares every field that a store must keep.
func sameUser(t *testing.T, got, want *auth.User) {
	t.Helper()
	g, w := fmt.Sprintf("%#v|%q|%v|%x|%v|%q|%v|%+v", got, got.PasswordHash, got.PasswordChangedAt, got.MFA.TOTPSecret,
		[]any{got.MFA.TOTPActive, got.MFA.TOTPDigits, got.MFA.TOTPPeriod, got.MFA.TOTPAlgorithm, got.MFA.TOTPLastStep, got.MFA.TOTPEnrolledAt},
		got.MFA.RecoveryCodes, []any{got.Lockout.Failures, got.Lockout.LastFailure, got.Lockout.LockedAt, got.CreatedAt, got.UpdatedAt, got.Version}, got.RoleRequest),
		fmt.Sprintf("%#v|%q|%v|%x|%v|%q|%v|%+v", want, want.PasswordHash, want.PasswordChangedAt, want.MFA.TOTPSecret,
			[]any{want.MFA.TOTPActive, want.MFA.TOTPDigits, want.MFA.TOTPPeriod, want.MFA.TOTPAlgorithm, want.MFA.TOTPLastStep, want.MFA.TOTPEnrolledAt},
			want.MFA.RecoveryCodes, []any{want.Lockout.Failures, want.Lockout.LastFailure, want.Lockout.LockedAt, want.CreatedAt, want.UpdatedAt, want.Version}, want.RoleRequest)
	if g != w {
		t.Fatalf("stored user differs:\n got %s\nwant %s", g, w)
	}
}

func userCreateAndGet(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "alice")
	u.Version = 42 // ignored
	must(t, st.Create(ctx, u))
	if u.Version != 1 {
		t.Fatalf("Create set version %d, want 1", u.Version)
	}
	got, err := st.Get(ctx, u.ID)
	must(t, err)
	sameUser(t, got, u)
	got, err = st.GetByName(ctx, "t1", "alice")
	must(t, err)
	sameUser(t, got, u)
}

func userRoundTrip(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "bob@example.org")
	u.Roles = []string{"admin-console", "physician"}
	u.Admin = true
	u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$Ti4UOK/YiZhTfXc2Ld3RuA$7r01/8fwGNXJNpCVf2A/WRH1dxrypXZuwAeFq8tnKTE"
	u.PasswordChangedAt = userEpoch.Add(time.Hour)
	u.MFA = auth.MFA{TOTPSecret: []byte{0, 1, 2, 0xff, 0xfe}, TOTPActive: true, TOTPDigits: 6, TOTPPeriod: 30,
		TOTPAlgorithm: "SHA1", TOTPLastStep: 59_000_000_123, TOTPEnrolledAt: userEpoch.Add(2 * time.Hour),
		RecoveryCodes: []string{"rc1$aaa", "rc1$bbb"}}
	u.Lockout = auth.LockoutState{Failures: 3, LastFailure: userEpoch.Add(3 * time.Hour)}
	must(t, st.Create(ctx, u))
	got, err := st.Get(ctx, u.ID)
	must(t, err)
	sameUser(t, got, u)

	got.Lockout.LockedAt = userEpoch.Add(4 * time.Hour)
	got.Status = auth.StatusDisabled
	got.MFA = auth.MFA{}
	got.Roles = nil
	got.RoleRequest = &auth.RoleRequest{Roles: []string{"nurse", "physician"}, RequestedBy: "admin-id", RequestedAt: userEpoch.Add(5 * time.Hour)}
	must(t, st.Update(ctx, got))
	again, err := st.Get(ctx, u.ID)
	must(t, err)
	sameUser(t, again, got)

	again.RoleRequest = nil
	must(t, st.Update(ctx, again))
	cleared, err := st.Get(ctx, u.ID)
	must(t, err)
	sameUser(t, cleared, again)
}

func userCreateDuplicate(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "carol")
	must(t, st.Create(ctx, u))
	dupID := NewUser("t1", "someone-else")
	dupID.ID = u.ID
	wantErr(t, st.Create(ctx, dupID), auth.ErrUserExists, "same ID")
	wantErr(t, st.Create(ctx, NewUser("t1", "carol")), auth.ErrUserExists, "same name in tenant")
	must(t, st.Create(ctx, NewUser("t2", "carol"))) // other tenant
}

func userNotFound(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	_, err := st.Get(ctx, auth.NewUserID())
	wantErr(t, err, auth.ErrUserNotFound, "Get unknown")
	_, err = st.Get(ctx, "not-an-id")
	wantErr(t, err, auth.ErrUserNotFound, "Get malformed")
	_, err = st.GetByName(ctx, "t1", "nobody")
	wantErr(t, err, auth.ErrUserNotFound, "GetByName unknown")
	u := NewUser("t1", "dave")
	u.Version = 1
	wantErr(t, st.Update(ctx, u), auth.ErrUserNotFound, "Update unknown")
}

func userInvalid(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	for name, mut := range map[string]func(*auth.User){
		"id":     func(u *auth.User) { u.ID = "X" },
		"name":   func(u *auth.User) { u.Name = "Not Canonical" },
		"status": func(u *auth.User) { u.Status = "zombie" },
		"tenant": func(u *auth.User) { u.TenantID = "" },
		"hash":   func(u *auth.User) { u.PasswordHash = "plaintext" },
	} {
		u := NewUser("t1", "erin")
		mut(u)
		wantErr(t, st.Create(ctx, u), auth.ErrInvalidUser, "Create with bad "+name)
	}
	u := NewUser("t1", "erin")
	must(t, st.Create(ctx, u))
	u.Roles = []string{"b", "a"}
	wantErr(t, st.Update(ctx, u), auth.ErrInvalidUser, "Update with unsorted roles")
}

func userUpdateCAS(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "frank")
	must(t, st.Create(ctx, u))
	a, err := st.Get(ctx, u.ID)
	must(t, err)
	b, err := st.Get(ctx, u.ID)
	must(t, err)
	a.Roles = []string{"nurse"}
	must(t, st.Update(ctx, a))
	if a.Version != 2 {
		t.Fatalf("Update set version %d, want 2", a.Version)
	}
	b.Roles = []string{"physician"}
	wantErr(t, st.Update(ctx, b), auth.ErrVersionConflict, "stale update")
	got, err := st.Get(ctx, u.ID)
	must(t, err)
	if got.Version != 2 || len(got.Roles) != 1 || got.Roles[0] != "nurse" {
		t.Fatalf("stale update changed the user: %v v%d", got.Roles, got.Version)
	}
	future := got.Clone()
	future.Version = 7
	wantErr(t, st.Update(ctx, future), auth.ErrVersionConflict, "version from the future")
}

func userUpdateRules(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "gina")
	must(t, st.Create(ctx, u))
	other := NewUser("t1", "hank")
	must(t, st.Create(ctx, other))

	moved := u.Clone()
	moved.TenantID = "t2"
	wantErr(t, st.Update(ctx, moved), auth.ErrInvalidUser, "tenant change")
	renamed := u.Clone()
	renamed.Name = "hank"
	wantErr(t, st.Update(ctx, renamed), auth.ErrUserExists, "rename onto a taken name")
	renamed.Name = "gina.new"
	must(t, st.Update(ctx, renamed))
	if _, err := st.GetByName(ctx, "t1", "gina"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("old name still resolves: %v", err)
	}
	got, err := st.GetByName(ctx, "t1", "gina.new")
	must(t, err)
	if got.ID != u.ID {
		t.Fatal("new name resolves to another user")
	}
	got.Status = auth.StatusRemoved
	must(t, st.Update(ctx, got))
	got.Status = auth.StatusActive
	wantErr(t, st.Update(ctx, got), auth.ErrInvalidUser, "un-removing")
}

func userRemovedFreesName(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "ivan")
	must(t, st.Create(ctx, u))
	u.Status = auth.StatusRemoved
	must(t, st.Update(ctx, u))
	_, err := st.GetByName(ctx, "t1", "ivan")
	wantErr(t, err, auth.ErrUserNotFound, "GetByName of a removed user")
	got, err := st.Get(ctx, u.ID)
	must(t, err)
	if got.Status != auth.StatusRemoved {
		t.Fatal("removed user lost its status")
	}
	n := NewUser("t1", "ivan")
	must(t, st.Create(ctx, n))
	got, err = st.GetByName(ctx, "t1", "ivan")
	must(t, err)
	if got.ID != n.ID {
		t.Fatal("name resolves to the removed user")
	}
	// A second removed user with the same name is fine too.
	n.Status = auth.StatusRemoved
	must(t, st.Update(ctx, n))
	r := NewUser("t1", "ivan")
	r.Status = auth.StatusRemoved
	must(t, st.Create(ctx, r))
}

func userList(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	var ids []string
	for _, n := range []string{"zed", "amy", "mo"} {
		u := NewUser("t1", n)
		must(t, st.Create(ctx, u))
		ids = append(ids, u.ID)
	}
	must(t, st.Create(ctx, NewUser("t2", "bea")))
	rm, err := st.Get(ctx, ids[2])
	must(t, err)
	rm.Status = auth.StatusRemoved
	must(t, st.Update(ctx, rm))
	us, err := st.List(ctx, "t1")
	must(t, err)
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	if fmt.Sprint(names) != "[amy mo zed]" {
		t.Fatalf("List = %v, want [amy mo zed] (sorted, removed included, tenant only)", names)
	}
	us, err = st.List(ctx, "t3")
	must(t, err)
	if len(us) != 0 {
		t.Fatal("List of an empty tenant is not empty")
	}
}

func userCopies(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "jo")
	u.MFA.RecoveryCodes = []string{"rc1$x"}
	u.MFA.TOTPSecret = []byte{1}
	u.MFA.TOTPDigits, u.MFA.TOTPPeriod = 6, 30
	must(t, st.Create(ctx, u))
	u.Roles[0] = "mutated-after-create"
	got, err := st.Get(ctx, u.ID)
	must(t, err)
	got.Roles[0] = "mutated-after-get"
	got.MFA.RecoveryCodes[0] = "changed"
	got.MFA.TOTPSecret[0] = 9
	again, err := st.Get(ctx, u.ID)
	must(t, err)
	if again.Roles[0] != "clinician" || again.MFA.RecoveryCodes[0] != "rc1$x" || again.MFA.TOTPSecret[0] != 1 {
		t.Fatal("store shares memory with its callers")
	}
}

// Read-modify-write loops from many goroutines lose no update.
func userConcurrentUpdates(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "kim")
	must(t, st.Create(ctx, u))
	const workers, each = 8, 5
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					cur, err := st.Get(ctx, u.ID)
					if err != nil {
						t.Error(err)
						return
					}
					cur.Lockout.Failures++
					err = st.Update(ctx, cur)
					if errors.Is(err, auth.ErrVersionConflict) {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	got, err := st.Get(ctx, u.ID)
	must(t, err)
	if got.Lockout.Failures != workers*each || got.Version != 1+workers*each {
		t.Fatalf("failures=%d version=%d, want %d and %d (lost updates)", got.Lockout.Failures, got.Version, workers*each, 1+workers*each)
	}

	// Many updates from the same version: exactly one wins.
	base, err := st.Get(ctx, u.ID)
	must(t, err)
	var wins atomic.Int64
	for i := range workers {
		wg.Go(func() {
			c := base.Clone()
			c.Lockout.Failures = 1000 + i
			if err := st.Update(ctx, c); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, auth.ErrVersionConflict) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d updates from one version succeeded, want exactly 1", wins.Load())
	}
}

func userConcurrentCreate(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := st.Create(ctx, NewUser("t1", "lee"))
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, auth.ErrUserExists) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d creates of one name succeeded, want exactly 1", wins.Load())
	}
}

func userCanceled(t *testing.T, st auth.UserStore) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.Create(ctx, NewUser("t1", "max")); err == nil {
		t.Fatal("Create with a canceled context succeeded")
	}
	if _, err := st.GetByName(t.Context(), "t1", "max"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatal("a canceled Create stored the user")
	}
}
