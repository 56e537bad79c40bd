package signing

import "errors"

var (
	// ErrMalformedKey reports key data that is not the expected PEM block
	// or whose content does not parse.
	ErrMalformedKey = errors.New("signing: malformed key")
	// ErrNotEd25519 reports a well-formed key of another algorithm.
	ErrNotEd25519 = errors.New("signing: not an ed25519 key")
	// ErrUnknownKey reports a key ID that no key of a KeySet has.
	ErrUnknownKey = errors.New("signing: unknown key")
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("signing: bad signature")
	// ErrDuplicateKeyID reports two different keys with one KeyID in a
	// KeySet.
	ErrDuplicateKeyID = errors.New("signing: two keys share a key ID")
)
