package auth

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// maxPasskeyName bounds a passkey's name, in bytes.
const maxPasskeyName = 64

// clonePasskeys returns a deep copy of ps.
func clonePasskeys(ps []passkey.Credential) []passkey.Credential {
	if ps == nil {
		return nil
	}
	out := make([]passkey.Credential, len(ps))
	for i, p := range ps {
		p.ID, p.PublicKey, p.AAGUID = slices.Clone(p.ID), slices.Clone(p.PublicKey), slices.Clone(p.AAGUID)
		p.Transports = slices.Clone(p.Transports)
		out[i] = p
	}
	return out
}

// validatePasskeys checks the credential list of a user: bounded, IDs and
// keys present and unique, names valid. Messages name the field, never a
// value.
func validatePasskeys(ps []passkey.Credential) error {
	if len(ps) > passkey.MaxPerUser {
		return fmt.Errorf("%w: more than %d passkeys", ErrInvalidUser, passkey.MaxPerUser)
	}
	for i, p := range ps {
		switch {
		case len(p.ID) == 0 || len(p.ID) > 1023:
			return fmt.Errorf("%w: passkey %d: bad credential ID length", ErrInvalidUser, i)
		case len(p.PublicKey) == 0:
			return fmt.Errorf("%w: passkey %d: no public key", ErrInvalidUser, i)
		case !validPasskeyName(p.Name):
			return fmt.Errorf("%w: passkey %d: bad name", ErrInvalidUser, i)
		}
		for _, q := range ps[:i] {
			if string(q.ID) == string(p.ID) {
				return fmt.Errorf("%w: passkey %d: duplicate credential ID", ErrInvalidUser, i)
			}
		}
	}
	return nil
}

// validPasskeyName reports whether name is a usable passkey label: 1 to
// 64 bytes of valid UTF-8 without control characters.
func validPasskeyName(name string) bool {
	if name == "" || len(name) > maxPasskeyName || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// needsPasskey reports whether a principal with roles must hold a
// passkey session under policy p (policy.Tenant.PasskeyRoles).
func needsPasskey(p *policy.Tenant, roles []string) bool {
	for _, r := range roles {
		if slices.Contains(p.PasskeyRoles, r) {
			return true
		}
	}
	return false
}

// passkeyLoginError is a refused passkey login: its *passkey.Error, and
// ErrInvalidCredentials as every refused login.
type passkeyLoginError struct{ pe *passkey.Error }

func (e passkeyLoginError) Error() string        { return e.pe.Error() }
func (e passkeyLoginError) Unwrap() error        { return e.pe }
func (e passkeyLoginError) Is(target error) bool { return target == ErrInvalidCredentials }

// passkeyRefusal returns the refusal of a ceremony for reason (a
// passkey.Error reason); a login's also matches ErrInvalidCredentials.
func passkeyRefusal(reason string, login bool) error {
	pe := &passkey.Error{Reason: reason}
	if login {
		return passkeyLoginError{pe}
	}
	return pe
}
