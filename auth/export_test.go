package auth

import (
	"context"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	memattempts "github.com/hipaakit/hipaakit/auth/internal/attempts"
	"github.com/hipaakit/hipaakit/auth/password"
)

// The parts of a Service, built alone for the tests that exercise one of
// them; programs build the whole Service with New.

// NewAuthenticator builds the credential part of a Service that ends
// sessions through rev.
func NewAuthenticator(cfg Config, rev SessionRevoker) (*Authenticator, error) {
	return newAuthenticator(cfg, rev)
}

// NewSessionManager builds the session part of a Service, with an
// in-memory emergency log.
func NewSessionManager(store SessionStore, users UserStore, w audit.Writer) *SessionManager {
	m := newSessionManager(store, users, w)
	m.Emergencies = NewMemoryEmergencyLog()
	return m
}

// NewHasher builds a password hasher.
var NewHasher = password.NewHasher

// NewGuard builds the RBAC part of a Service.
var NewGuard = newGuard

// NewHandlers builds the HTTP endpoints of a Service.
var NewHandlers = newHandlers

// NoSessions is a SessionRevoker that revokes nothing, for tests of the
// credential part alone.
var NoSessions SessionRevoker = SessionRevokerFunc(func(context.Context, string) error { return nil })

// MemStores gives this package's own tests the stores of auth/memstore,
// and auth/filestore, which import auth and so cannot be imported here: memstores_test.go
// (package auth_test) sets it in its init function, before any test runs.
var MemStores struct {
	Users       func() UserStore
	Sessions    func() SessionStore
	Emergencies func() EmergencyLog
	// FileUsers opens an auth/filestore user store.
	FileUsers func(dir string) (interface {
		UserStore
		Close() error
	}, error)
}

// NewMemoryUserStore returns an empty memstore user store.
func NewMemoryUserStore() UserStore { return MemStores.Users() }

// NewMemorySessionStore returns an empty memstore session store.
func NewMemorySessionStore() SessionStore { return MemStores.Sessions() }

// NewMemoryEmergencyLog returns an empty memstore emergency log.
func NewMemoryEmergencyLog() EmergencyLog { return MemStores.Emergencies() }

// NewMemoryAttemptStore returns the in-memory attempt store memstore offers.
func NewMemoryAttemptStore(maxKeys int) *memattempts.Memory { return memattempts.NewMemory(maxKeys) }

// The parts of a Service under their former names, for the tests.
type (
	Authenticator      = authenticator
	SessionManager     = sessionManager
	Guard              = rbacGuard
	Handlers           = endpoints
	SessionRevoker     = sessionRevoker
	SessionRevokerFunc = sessionRevokerFunc
	KeySealer          = keySealer
)

// Unexported constants and values under their former names, for the tests.
const (
	// The documented defaults of policy.Tenant's break-glass limits.
	DefaultEmergencyReasonMinChars = 20
	DefaultEmergencyReasonMinWords = 3
	DefaultMaxEmergenciesPerDay    = 3

	RecoveryCodeCount      = recoveryCodeCount
	DefaultCSRFFormField   = defaultCSRFFormField
	DefaultCSRFHeader      = defaultCSRFHeader
	DefaultMaxBodyBytes    = defaultMaxBodyBytes
	PHIField               = pHIField
	DefaultAbsoluteTimeout = defaultAbsoluteTimeout
	DefaultIdleTimeout     = defaultIdleTimeout
	DefaultReauthAfter     = defaultReauthAfter
	DefaultTouchInterval   = defaultTouchInterval
	ChallengeTTL           = challengeTTL
)

var (
	HashToken               = hashToken
	ErrPolicySourceConflict = errPolicySourceConflict
	ErrMalformedToken       = errMalformedToken
	ParseToken              = parseToken
	NormalizeRoles          = normalizeRoles
)

// Refusals under their former sentinel names, for the tests.
var (
	ErrReauthRequired         = errReauthRequired
	ErrMFANotEnrolled         = errMFANotEnrolled
	ErrMFAAlreadyActive       = errMFAAlreadyActive
	ErrNoSealer               = errNoSealer
	ErrRecoveryNotAllowed     = errRecoveryNotAllowed
	ErrUserInactive           = errUserInactive
	ErrSelfAdministration     = errSelfAdministration
	ErrLastAdministrator      = errLastAdministrator
	ErrApprovalPending        = errApprovalPending
	ErrNoRoleRequest          = errNoRoleRequest
	ErrSecondApproverRequired = errSecondApproverRequired
	ErrCSRF                   = errCSRF
	ErrEmergencyDenied        = errEmergencyDenied
	ErrInvalidCode            = errInvalidCode
	ErrWeakTOTPSecret         = errWeakTOTPSecret
	ErrInvalidTOTPParams      = errInvalidTOTPParams
)

type CookieConfig = cookieConfig

// testHasher uses the cheapest parameters auth/password accepts, so tests
// stay fast; the defaults are exercised by that package's golden vector.
func testHasher(t testing.TB) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(password.HasherConfig{Params: password.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}
