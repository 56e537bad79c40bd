package auth

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// Errors about users and credentials. Every error the package returns about a
// user matches one of these with errors.Is; none of them ever carries a
// password, a code, a secret or a hash.
var (
	// ErrInvalidCredentials is the one answer to a failed login: unknown
	// user, wrong password, wrong code, disabled or removed account alike.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	// ErrUserNotFound reports that no user has the ID or name looked up.
	ErrUserNotFound = errors.New("auth: user not found")
	// ErrUserExists reports that the ID, or the login name within the
	// tenant, is already taken.
	ErrUserExists = errors.New("auth: user already exists")
	// ErrVersionConflict reports that a compare-and-swap update lost: the
	// stored user changed since it was read. Read it again and retry.
	ErrVersionConflict = errors.New("auth: user changed concurrently")
	// ErrInvalidUser reports a User value that breaks a rule of User.Validate
	// (bad ID, name, status, ...). The message names the field, never its value.
	ErrInvalidUser = errors.New("auth: invalid user")
	// errUserInactive reports an operation on a disabled or removed user
	// other than a status change.
	errUserInactive = refusal("user_inactive", "auth: user is not active")
)

// Status is a user's account status.
type Status string

// Statuses. Only an Active user can log in or hold a session. Disabling or
// removing a user ends all of the user's sessions at once (see
// SessionRevoker). A Removed user's record is kept so that its ID is never
// reused and audit trails keep resolving; its login name becomes free again.
const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
	StatusRemoved  Status = "removed"
)

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusDisabled || s == StatusRemoved
}

// User is one identity (164.312(a)(2)(i) unique user identification).
//
// An identity belongs to exactly one tenant. A person who works for two
// tenants, or who needs administrative privileges, gets a separate identity
// for each: administrative roles are only ever granted to an identity whose
// Admin flag is set, so that everyday work never runs with administrative
// rights and every administrative action is attributable to the
// administrative identity.
//
// User values returned by a UserStore are copies: changing one changes
// nothing stored until it is passed to UserStore.Update.
//
// Formatting a User with fmt, log/slog or encoding/json shows its ID, tenant,
// name, status, roles and admin flag only; the password hash, MFA secrets and
// recovery-code hashes are never printed.
type User struct {
	// ID is the immutable, unique, random identifier (see NewUserID). It is
	// what audit events record as the actor.
	ID string
	// TenantID is the tenant the identity belongs to; it never changes.
	TenantID string
	// Name is the login name in canonical form (see CanonicalName), unique
	// among the tenant's users that are not removed.
	Name   string
	Status Status
	// Roles are the identity's roles within TenantID, sorted, without
	// duplicates. What they permit is decided by the RBAC policy.
	Roles []string
	// Admin marks an administrative identity (see the type's comment).
	Admin bool

	// PasswordHash is the argon2id hash in PHC string form (see Config.Argon2);
	// empty means the user has no password and cannot log in with one.
	PasswordHash      string
	PasswordChangedAt time.Time

	// MFA holds the second factor's state.
	MFA MFA
	// Lockout holds the failed-login counter and lock state.
	Lockout LockoutState
	// Passkeys are the user's WebAuthn credentials (see Passkey).
	Passkeys []passkey.Credential
	// RoleRequest is a role change waiting for a second administrator's
	// approval (policy.Tenant.ApprovePHIGrants); nil when none is pending.
	RoleRequest *RoleRequest

	CreatedAt time.Time
	UpdatedAt time.Time
	// Version is incremented by every successful UserStore.Update; Update
	// succeeds only when the stored version equals this one (compare and
	// swap). Create stores version 1.
	Version int64
}

// MFA is a user's second-factor state. Every secret in it is sealed by a
// SecretSealer before it is stored.
type MFA struct {
	// TOTPSecret is the sealed TOTP secret of an enrolment; nil when the user
	// never enrolled.
	TOTPSecret []byte
	// TOTPActive is true once the enrolment has been confirmed with a first
	// valid code; only then is TOTP required and accepted at login.
	TOTPActive bool
	// TOTPDigits, TOTPPeriod and TOTPAlgorithm are the parameters the secret
	// was enrolled with (the authenticator app is configured with them).
	TOTPDigits    int
	TOTPPeriod    int // seconds
	TOTPAlgorithm string
	// TOTPLastStep is the last accepted time step (Unix time / period);
	// a code for this step or an earlier one is never accepted again.
	TOTPLastStep int64
	// TOTPEnrolledAt is when the current secret was generated.
	TOTPEnrolledAt time.Time
	// RecoveryCodes holds the hashes of the unused recovery codes; a code is
	// removed when it is used.
	RecoveryCodes []string
}

// Enabled reports whether the user has an active second factor.
func (m MFA) Enabled() bool { return m.TOTPActive }

// LockoutState counts consecutive failed authentications of an account.
type LockoutState struct {
	// Failures is the number of consecutive failed attempts since the last
	// success or unlock.
	Failures int
	// LastFailure is the time of the latest failed attempt.
	LastFailure time.Time
	// LockedAt is set when Failures reached the lockout limit: the account's
	// authenticators are disabled until an administrator unlocks it.
	LockedAt time.Time
}

// Locked reports whether the account's authenticators are disabled.
func (l LockoutState) Locked() bool { return !l.LockedAt.IsZero() }

// Active reports whether the user can log in and hold sessions.
func (u *User) Active() bool { return u != nil && u.Status == StatusActive }

// Clone returns a deep copy of u.
func (u *User) Clone() *User {
	if u == nil {
		return nil
	}
	c := *u
	c.Roles = slices.Clone(u.Roles)
	c.MFA.TOTPSecret = slices.Clone(u.MFA.TOTPSecret)
	c.MFA.RecoveryCodes = slices.Clone(u.MFA.RecoveryCodes)
	c.Passkeys = clonePasskeys(u.Passkeys)
	if u.RoleRequest != nil {
		rr := *u.RoleRequest
		rr.Roles = slices.Clone(rr.Roles)
		c.RoleRequest = &rr
	}
	return &c
}

// userIDEncoding is lower-case RFC 4648 base32 without padding.
var userIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// userIDLen is the length of an encoded 128-bit ID.
const userIDLen = 26

// NewUserID returns a fresh random user ID: 128 bits from crypto/rand as 26
// lower-case base32 characters. IDs carry no meaning and are never reused.
func NewUserID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand.Read never fails on supported platforms (it
		// crashes the program rather than returning an error).
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return userIDEncoding.EncodeToString(b[:])
}

// ValidUserID reports whether id has the form NewUserID produces.
func ValidUserID(id string) bool {
	if len(id) != userIDLen {
		return false
	}
	_, err := userIDEncoding.DecodeString(id)
	return err == nil
}

const (
	maxNameBytes   = 256
	maxTenantBytes = 128
	maxRoleBytes   = 128
	maxRoles       = 64
)

var foldCaser = cases.Fold()

// CanonicalName returns the canonical form of a login name: NFKC-normalised,
// case-folded, with leading and trailing white space removed. Stores compare
// names byte for byte, so names must be canonicalised before they are stored
// or looked up. It fails for an empty name, one longer than 256 bytes, or
// one holding control or invalid UTF-8 characters; the error does not echo
// the name.
func CanonicalName(name string) (string, error) {
	if len(name) > 4*maxNameBytes { // bound the normalisation work on hostile input
		return "", fmt.Errorf("%w: name is longer than %d bytes", ErrInvalidUser, maxNameBytes)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: name is not valid UTF-8", ErrInvalidUser)
	}
	c := strings.TrimSpace(norm.NFKC.String(foldCaser.String(norm.NFKC.String(name))))
	if err := checkName(c); err != nil {
		return "", err
	}
	return c, nil
}

func checkName(c string) error {
	if c == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalidUser)
	}
	if len(c) > maxNameBytes {
		return fmt.Errorf("%w: name is longer than %d bytes", ErrInvalidUser, maxNameBytes)
	}
	for _, r := range c {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return fmt.Errorf("%w: name holds a control or invalid character", ErrInvalidUser)
		}
	}
	return nil
}

// normalizeRoles returns roles sorted and without duplicates.
func normalizeRoles(roles []string) []string {
	r := slices.Clone(roles)
	slices.Sort(r)
	return slices.Compact(r)
}

// Validate checks the rules every stored user obeys. Stores call it in
// Create and Update. Errors match ErrInvalidUser and name the field only.
func (u *User) Validate() error {
	if u == nil {
		return fmt.Errorf("%w: nil user", ErrInvalidUser)
	}
	if !ValidUserID(u.ID) {
		return fmt.Errorf("%w: malformed ID", ErrInvalidUser)
	}
	if !policy.ValidTenantID(u.TenantID) {
		return fmt.Errorf("%w: malformed tenant ID", ErrInvalidUser)
	}
	if c, err := CanonicalName(u.Name); err != nil {
		return err
	} else if c != u.Name {
		return fmt.Errorf("%w: name is not canonical (use CanonicalName)", ErrInvalidUser)
	}
	if !u.Status.Valid() {
		return fmt.Errorf("%w: unknown status", ErrInvalidUser)
	}
	if len(u.Roles) > maxRoles {
		return fmt.Errorf("%w: more than %d roles", ErrInvalidUser, maxRoles)
	}
	for i, r := range u.Roles {
		if !policy.ValidRole(r) {
			return fmt.Errorf("%w: malformed role", ErrInvalidUser)
		}
		if i > 0 && u.Roles[i-1] >= r {
			return fmt.Errorf("%w: roles not sorted or duplicated (use NormalizeRoles)", ErrInvalidUser)
		}
	}
	if u.PasswordHash != "" {
		if err := password.ValidateHash(u.PasswordHash); err != nil {
			return fmt.Errorf("%w: malformed password hash", ErrInvalidUser)
		}
	}
	if u.MFA.TOTPActive && len(u.MFA.TOTPSecret) == 0 {
		return fmt.Errorf("%w: TOTP active without a secret", ErrInvalidUser)
	}
	if err := u.RoleRequest.validate(); err != nil {
		return err
	}
	if err := validatePasskeys(u.Passkeys); err != nil {
		return err
	}
	if u.MFA.TOTPLastStep < 0 || u.Lockout.Failures < 0 {
		return fmt.Errorf("%w: negative counter", ErrInvalidUser)
	}
	return nil
}

// redactedUser is what fmt, slog and JSON show of a User.
type redactedUser struct {
	ID       string   `json:"id"`
	TenantID string   `json:"tenant_id"`
	Name     string   `json:"name"`
	Status   Status   `json:"status"`
	Roles    []string `json:"roles,omitempty"`
	Admin    bool     `json:"admin,omitempty"`
	MFA      bool     `json:"mfa"`
	Locked   bool     `json:"locked,omitempty"`
}

func (u User) redacted() redactedUser {
	return redactedUser{ID: u.ID, TenantID: u.TenantID, Name: u.Name, Status: u.Status,
		Roles: u.Roles, Admin: u.Admin, MFA: u.MFA.Enabled(), Locked: u.Lockout.Locked()}
}

// String describes u without credentials.
func (u User) String() string {
	return fmt.Sprintf("auth.User{ID:%s Tenant:%s Name:%q Status:%s Roles:%v Admin:%t MFA:%t Locked:%t}",
		u.ID, u.TenantID, u.Name, u.Status, u.Roles, u.Admin, u.MFA.Enabled(), u.Lockout.Locked())
}

// GoString is String, so that %#v never prints credentials.
func (u User) GoString() string { return u.String() }

// LogValue logs u without credentials.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("tenant_id", u.TenantID),
		slog.String("name", u.Name), slog.String("status", string(u.Status)),
		slog.Any("roles", u.Roles), slog.Bool("admin", u.Admin),
		slog.Bool("mfa", u.MFA.Enabled()), slog.Bool("locked", u.Lockout.Locked()))
}

// MarshalJSON encodes u without credentials, for APIs that show a user. It
// is not a storage format: stores keep their own versioned encodings.
func (u User) MarshalJSON() ([]byte, error) { return json.Marshal(u.redacted()) }

// String never prints secrets.
func (m MFA) String() string {
	return fmt.Sprintf("auth.MFA{TOTPActive:%t policy.RecoveryCodes:%d}", m.TOTPActive, len(m.RecoveryCodes))
}

// GoString is String.
func (m MFA) GoString() string { return m.String() }

// LogValue never logs secrets.
func (m MFA) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("totp_active", m.TOTPActive), slog.Int("recovery_codes", len(m.RecoveryCodes)))
}
