package totp

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/internal/redact"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// Algorithm is the HMAC hash of a TOTP secret (RFC 6238 section 1.2).
// Its value is what a user record stores as the enrolment's algorithm.
type Algorithm string

// TOTP algorithms. SHA1 is the default and the only one every authenticator
// app supports; SHA256 and SHA512 exist for imported secrets and for apps
// that support them.
const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

// ErrWeakSecret reports a TOTP secret shorter than 128 bits, whether offered
// for import or found in a stored enrolment.
var ErrWeakSecret = errors.New("auth/totp: TOTP secret shorter than 128 bits")

// ErrInvalidParams reports an unknown algorithm, digit count or period, or a
// secret that is not base32 or too long, in an import or a stored enrolment.
var ErrInvalidParams = errors.New("auth/totp: invalid TOTP parameters")

// minImportBytes is the smallest secret accepted anywhere (128 bits);
// new enrolments use at least minSecretBytes.
const minImportBytes = 16

// maxSecretBytes bounds every secret (SHA512's block size, twice RFC
// 6238's SHA512 test seed).
const maxSecretBytes = 128

// otpAlgorithm maps alg to the otp library's value.
func (alg Algorithm) otpAlgorithm() (otp.Algorithm, bool) {
	switch alg {
	case SHA1:
		return otp.AlgorithmSHA1, true
	case SHA256:
		return otp.AlgorithmSHA256, true
	case SHA512:
		return otp.AlgorithmSHA512, true
	}
	return 0, false
}

// Params are the checked parameters of one enrolment; build them with
// NewParams.
type Params struct {
	Algorithm Algorithm
	Digits    int
	PeriodSec int // the time step in seconds

	alg otp.Algorithm
}

// NewParams checks an algorithm, digit count and period (seconds); the
// error wraps ErrInvalidParams.
func NewParams(alg Algorithm, digits, periodSec int) (Params, error) {
	a, ok := alg.otpAlgorithm()
	switch {
	case !ok:
		return Params{}, fmt.Errorf("%w: unknown algorithm", ErrInvalidParams)
	case digits != 6 && digits != 8:
		return Params{}, fmt.Errorf("%w: digits must be 6 or 8", ErrInvalidParams)
	case periodSec < 15 || periodSec > 120:
		return Params{}, fmt.Errorf("%w: period must be 15..120 seconds", ErrInvalidParams)
	}
	return Params{Algorithm: alg, Digits: digits, PeriodSec: periodSec, alg: a}, nil
}

// DecodeSecret decodes a base32 secret as authenticator apps write it
// (any case, spaces and padding optional) and refuses one under 128 bits
// (ErrWeakSecret) or malformed (ErrInvalidParams).
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimRight(s, "="), " ", ""))
	if len(s) > base32.StdEncoding.EncodedLen(maxSecretBytes) {
		return nil, fmt.Errorf("%w: secret longer than %d bytes", ErrInvalidParams, maxSecretBytes)
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: secret is not base32", ErrInvalidParams)
	}
	if len(b) > maxSecretBytes {
		clear(b)
		return nil, fmt.Errorf("%w: secret longer than %d bytes", ErrInvalidParams, maxSecretBytes)
	}
	if len(b) < minImportBytes {
		clear(b)
		return nil, ErrWeakSecret
	}
	return b, nil
}

// CanonicalSecret returns raw in the base32 form (upper case, unpadded)
// that enrolments store.
func CanonicalSecret(raw []byte) []byte {
	return []byte(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
}

// Match returns the time step within ±skew of now whose code under p
// equals code, comparing every candidate in constant time, or -1. A secret
// that is not base32 or is shorter than 128 bits is an error
// (ErrInvalidParams, ErrWeakSecret), so that an enrolment written by
// another path with a weak secret never signs anyone in.
func (p Params) Match(secret, code string, skew int, now time.Time) (int64, error) {
	if p.PeriodSec == 0 {
		return -1, fmt.Errorf("%w: Params not built by NewParams", ErrInvalidParams)
	}
	raw, err := DecodeSecret(secret)
	if err != nil {
		return -1, err
	}
	secret = string(CanonicalSecret(raw)) // the form hotp decodes
	clear(raw)
	cur := now.Unix() / int64(p.PeriodSec)
	opts := hotp.ValidateOpts{Digits: otp.Digits(p.Digits), Algorithm: p.alg}
	found := int64(-1)
	for s := cur - int64(skew); s <= cur+int64(skew); s++ {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), opts)
		if err != nil {
			return -1, errors.New("auth/totp: TOTP secret unusable")
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found < 0 {
			found = s
		}
	}
	return found, nil
}

const maxDigits = 8

// ParseCode accepts exactly digits ASCII digits, ignoring spaces (apps
// show "123 456"). It never echoes the input.
func ParseCode(s string, digits int) (string, bool) {
	if len(s) > 2*maxDigits {
		return "", false
	}
	var b [maxDigits]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
		case c >= '0' && c <= '9' && n < digits && n < maxDigits:
			b[n] = c
			n++
		default:
			return "", false
		}
	}
	if n != digits {
		return "", false
	}
	return string(b[:n]), true
}

// Import is an existing TOTP enrolment brought from another system, so
// that its users keep their authenticator app entries. It holds the secret:
// it prints, logs and encodes as a redaction.
type Import struct {
	// Secret is the base32 secret (as in an otpauth:// URI; any case,
	// spaces and padding optional); at least 128 bits.
	Secret string
	// Algorithm defaults to SHA1.
	Algorithm Algorithm
	// Digits is 6 (default) or 8.
	Digits int
	// Period is the time step (default 30s; whole seconds, 15s to 2m).
	Period time.Duration
}

// String redacts the import.
func (Import) String() string { return redact.Text("totp.Import") }

// GoString redacts the import.
func (t Import) GoString() string { return t.String() }

// Format prints totp.Import{[redacted]} under every verb.
func (Import) Format(f fmt.State, _ rune) { redact.Format(f, "totp.Import") }

// LogValue redacts the import.
func (Import) LogValue() slog.Value { return redact.Log("totp.Import") }

// MarshalJSON redacts the import.
func (Import) MarshalJSON() ([]byte, error) { return redact.JSON("totp.Import") }

// Params checks imp and returns its parameters with the defaults applied;
// the error wraps ErrInvalidParams.
func (imp Import) Params() (Params, error) {
	alg, digits, period := imp.Algorithm, imp.Digits, imp.Period
	if alg == "" {
		alg = SHA1
	}
	if digits == 0 {
		digits = 6
	}
	if period == 0 {
		period = 30 * time.Second
	}
	if period%time.Second != 0 {
		return Params{}, fmt.Errorf("%w: period must be whole seconds", ErrInvalidParams)
	}
	return NewParams(alg, digits, int(period/time.Second))
}
