package phi

import "errors"

// Errors returned by the Vault, besides those declared with the KeyStore
// contract (ErrShredded, ErrKeyNotFound, ErrKeyExists, ErrConflict). Each is
// distinct and testable with errors.Is; none of their messages, nor any
// error the Vault returns, contains plaintext, key material or the bytes of a
// sealed value.
var (
	// ErrTampered reports that a sealed value, or a stored keyset, failed
	// authentication: it was altered, or it is being opened with another
	// binding (subject, field, tenant or record) than it was sealed with, or
	// under another subject's keys. These causes are deliberately not told
	// apart.
	ErrTampered = errors.New("phi: authentication failed (tampered or wrong binding)")
	// ErrUnsupportedVersion reports a sealed value whose format version this
	// build does not know.
	ErrUnsupportedVersion = errors.New("phi: unsupported sealed-value version")
	// ErrMalformed reports bytes that cannot be parsed as a sealed value (or a
	// stored keyset that cannot be parsed).
	ErrMalformed = errors.New("phi: malformed sealed value")
	// ErrInvalidBinding reports a Binding whose subject or field is missing or
	// not well-formed (see Binding).
	ErrInvalidBinding = errors.New("phi: invalid binding")
	// ErrUnknownKEK reports a stored keyset wrapped by a KEK that the Vault
	// was not given (neither its KEK nor one in VaultConfig.OldKEKs).
	ErrUnknownKEK = errors.New("phi: keyset wrapped by an unknown KEK")
	// ErrAuditFailed reports that an audited access (Vault.Reveal) could not
	// be recorded, so it was refused: no audit, no access.
	ErrAuditFailed = errors.New("phi: audit write failed, access refused")
	// ErrUnknownField reports a blind index requested for a field that was
	// not registered in VaultConfig.BlindIndexes.
	ErrUnknownField = errors.New("phi: no blind index registered for field")
)
