package hipaakittest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
)

// TOTPAlgorithm names the HMAC hash of a TOTP code (RFC 6238 section 1.2).
type TOTPAlgorithm string

// The algorithms RFC 6238 allows.
const (
	SHA1   TOTPAlgorithm = "SHA1"
	SHA256 TOTPAlgorithm = "SHA256"
	SHA512 TOTPAlgorithm = "SHA512"
)

// ErrTOTPParams reports a secret that is not base32 or parameters RFC 6238
// does not define. It never quotes the secret.
var ErrTOTPParams = errors.New("hipaakittest: invalid TOTP secret or parameters")

// TOTPCode returns the six-digit SHA1 code for the base32 secret at t with a
// 30-second period, the parameters authenticator apps use by default. It is
// computed here, independently of package auth, so that a test of auth's
// verification does not check auth against itself.
func TOTPCode(secret string, t time.Time) (string, error) {
	return TOTPCodeWith(secret, t, SHA1, 6, 30*time.Second)
}

// TOTPCodeWith returns the code for the base32 secret at t with the given
// algorithm, number of digits (6 to 8) and period (a whole number of seconds).
func TOTPCodeWith(secret string, t time.Time, alg TOTPAlgorithm, digits int, period time.Duration) (string, error) {
	var h func() hash.Hash
	switch alg {
	case SHA1:
		h = sha1.New
	case SHA256:
		h = sha256.New
	case SHA512:
		h = sha512.New
	default:
		return "", fmt.Errorf("%w: algorithm", ErrTOTPParams)
	}
	if digits < 6 || digits > 8 {
		return "", fmt.Errorf("%w: digits must be 6 to 8", ErrTOTPParams)
	}
	if period < time.Second || period%time.Second != 0 {
		return "", fmt.Errorf("%w: period must be whole seconds", ErrTOTPParams)
	}
	clean := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "="))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(clean)
	if err != nil || len(key) == 0 {
		return "", fmt.Errorf("%w: secret is not base32", ErrTOTPParams)
	}
	return hotp(h, key, uint64(t.Unix())/uint64(period/time.Second), digits), nil
}

// hotp is RFC 4226 section 5.3.
func hotp(h func() hash.Hash, key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(h, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}
