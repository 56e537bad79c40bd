package auth

// # Sessions (automatic logoff, 164.312(a)(2)(iii))
//
// A session is identified by an opaque bearer token of 256 random bits that
// only the client holds. The server stores the token's SHA-256 hash and never
// the token, so a copy of a session store does not let anyone sign in. Each
// session also has an ID: a separate random reference that appears in audit
// events (audit.Actor.SessionID) and in administrative listings and that can
// never be turned into the token.
//
// Idle timeout (default 15 minutes) and absolute lifetime (default 12 hours)
// are enforced on the server from the injected clock at every request;
// cookie expiry plays no part. Activity slides only the idle timer. Logout,
// expiry, RevokeUser and RevokeOtherSessions delete the server-side session.
// A new token is issued at login, at re-authentication and at every
// privilege change (break-glass), so a token planted before login is useless.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"
)

// Session errors. Stores return ErrSessionNotFound for a missing session;
// the session middleware maps every failure to validate a presented token to
// ErrInvalidSession so that a caller cannot tell a malformed token from an
// unknown, expired or revoked one.
var (
	// ErrSessionNotFound reports that no session has the given token hash or ID.
	ErrSessionNotFound = errors.New("auth: session not found")
	// ErrSessionExists reports that a session with the same ID or token hash is already stored.
	ErrSessionExists = errors.New("auth: session already exists")
	// ErrInvalidSession reports that a request carries no usable session:
	// none at all, a malformed token, or one that is unknown, expired or revoked.
	ErrInvalidSession = errors.New("auth: no valid session")
	// ErrMalformedToken reports a token that is not in the session token format.
	errMalformedToken = errors.New("auth: malformed session token")
	// errReauthRequired reports that the action needs a recent re-authentication.
	errReauthRequired = refusal("reauthentication_required", "auth: re-authentication required")
)

// tokenPrefix marks (and versions) hipaakit session tokens; it also lets
// secret scanners recognise a leaked token.
const tokenPrefix = "hks1_"

// tokenBytes is the token's entropy: 256 bits.
const tokenBytes = 32

// tokenLen is the length of an encoded token.
var tokenLen = len(tokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// TokenHash is the SHA-256 hash of a session token: the only form of the
// token a store ever sees.
type TokenHash [sha256.Size]byte

// String returns a short, non-reversible label (the first 8 hex digits) for
// diagnostics. The full hash is never printed.
func (h TokenHash) String() string { return "tokenhash:" + hex.EncodeToString(h[:4]) }

// newToken returns a fresh token and its hash.
func newToken() (string, TokenHash, error) {
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", TokenHash{}, errors.New("auth: no randomness for session token")
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return tok, hashToken(tok), nil
}

// hashToken returns the hash under which a session with token tok is stored.
func hashToken(tok string) TokenHash {
	var buf [64]byte // tokens fit: hash them without a heap copy
	if len(tok) <= len(buf) {
		n := copy(buf[:], tok)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(tok))
}

// parseToken checks that tok is a well-formed session token (prefix, length,
// canonical unpadded base64url) and returns its hash. It never echoes tok in
// its error.
func parseToken(tok string) (TokenHash, error) {
	if len(tok) != tokenLen || tok[:len(tokenPrefix)] != tokenPrefix {
		return TokenHash{}, errMalformedToken
	}
	var raw [tokenBytes + 2]byte
	n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(tok[len(tokenPrefix):]))
	if err != nil || n != tokenBytes {
		return TokenHash{}, errMalformedToken
	}
	return hashToken(tok), nil
}

// newSessionID returns a random 128-bit session reference in hex.
func newSessionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.New("auth: no randomness for session id")
	}
	return hex.EncodeToString(b[:]), nil
}

// Session is the server-side state of one signed-in user. Stores persist it
// as given; the Service maintains every field.
type Session struct {
	// ID is an opaque random reference used in audit events and listings. It
	// stays the same when the token is rotated.
	ID string
	// TokenHash is the SHA-256 hash of the current token.
	TokenHash TokenHash
	UserID    string
	TenantID  string
	// CreatedAt is when the user signed in; the absolute lifetime counts from it.
	CreatedAt time.Time
	// LastSeenAt is the last recorded activity; the idle timeout counts from it.
	LastSeenAt time.Time
	// AuthenticatedAt is the last time the user proved who they are (login
	// or re-authentication); sensitive actions require it to be recent.
	AuthenticatedAt time.Time
	// IdleTimeout and AbsoluteTimeout are the limits in force for this
	// session, fixed at login from the manager and the tenant policy.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// ExpiresAt is the earlier of LastSeenAt+IdleTimeout and
	// CreatedAt+AbsoluteTimeout. Stores index it for sweeping.
	ExpiresAt time.Time
	// MFA reports that the login used a second factor.
	MFA bool
	// Passkey reports that the login (or a later re-authentication)
	// used a WebAuthn passkey, a phishing-resistant factor
	// (policy.Tenant.PasskeyRoles).
	Passkey bool
	// Emergency is set while break-glass access is active.
	Emergency *EmergencyGrant
}

// EmergencyGrant is an active break-glass elevation of a session.
type EmergencyGrant struct {
	// AccessID identifies the emergency access record (see EmergencyLog).
	AccessID string
	// Role is the emergency role the user elevated to.
	Role   string
	Reason string
	// StartedAt and Until bound the elevation.
	StartedAt time.Time
	Until     time.Time
}

// deadline returns when s expires: the earlier of the idle and absolute deadlines.
func (s *Session) deadline(idle, abs time.Duration) time.Time {
	d := s.LastSeenAt.Add(idle)
	if a := s.CreatedAt.Add(abs); a.Before(d) {
		d = a
	}
	return d
}

// Clone returns a deep copy of s.
func (s Session) Clone() Session {
	if s.Emergency != nil {
		g := *s.Emergency
		s.Emergency = &g
	}
	return s
}

// SessionStore persists sessions. Implementations are safe for concurrent
// use and store exactly what they are given; every policy decision is made
// by the Service. The conformance suite in auth/authtest checks these
// contracts.
type SessionStore interface {
	// CreateSession stores a new session. It returns ErrSessionExists when a
	// session with the same ID or token hash is stored.
	CreateSession(ctx context.Context, s Session) error
	// SessionByTokenHash returns the session whose current token has hash
	// h, or ErrSessionNotFound. Expired sessions are returned as stored.
	SessionByTokenHash(ctx context.Context, h TokenHash) (Session, error)
	// SessionByID returns the session with the given ID, or ErrSessionNotFound.
	SessionByID(ctx context.Context, id string) (Session, error)
	// UpdateSession replaces the stored session that has s.ID, including its
	// token hash (token rotation: afterwards the old hash finds nothing),
	// provided its current token hash is prev (compare and swap, so that a
	// late activity update cannot undo a rotation). It returns
	// ErrSessionNotFound when no session has s.ID and token hash prev, and
	// ErrSessionExists when another session has s.TokenHash.
	UpdateSession(ctx context.Context, prev TokenHash, s Session) error
	// DeleteSession removes the session with the given ID. Deleting a missing
	// session returns ErrSessionNotFound.
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions removes every session of userID except the one
	// whose ID is exceptID (none when exceptID is empty) and returns the
	// removed sessions.
	DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]Session, error)
	// ListUserSessions returns the sessions of userID, oldest first.
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	// ExpiredSessions returns up to limit sessions (all when limit <= 0)
	// whose ExpiresAt is not after now, earliest first.
	ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]Session, error)
}
