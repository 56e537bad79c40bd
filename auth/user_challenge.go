package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ChallengeTTL is how long the Challenge of a password step stays valid.
const ChallengeTTL = 5 * time.Minute

// Challenge format (version 1): "mc1." + base64url(payload) + "." +
// base64url(HMAC-SHA256(key, "mc1." + base64url(payload))), where payload is
// the 26-byte user ID, 8 bytes of big-endian expiry (Unix seconds) and 8
// bytes of the user's PasswordChangedAt (Unix nanoseconds). The challenge is
// bound to the password that passed: changing it voids the challenge.
const challengePrefix = "mc1."

var errBadChallenge = errors.New("auth: invalid challenge")

type challenge struct {
	userID    string
	expires   time.Time
	pwChanged time.Time
}

// challengeKey returns the HMAC key (Config.ChallengeKey, or a random key
// made once per Authenticator).
func (a *Authenticator) challengeKey() []byte {
	a.keyOnce.Do(func() {
		if len(a.cfg.ChallengeKey) > 0 {
			a.key = a.cfg.ChallengeKey
			return
		}
		a.key = make([]byte, 32)
		if _, err := rand.Read(a.key); err != nil {
			panic("auth: crypto/rand failed: " + err.Error())
		}
	})
	return a.key
}

func (a *Authenticator) challengeMAC(msg string) []byte {
	m := hmac.New(sha256.New, a.challengeKey())
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (a *Authenticator) newChallenge(u *User, now time.Time) (string, error) {
	if !ValidUserID(u.ID) {
		return "", fmt.Errorf("%w: malformed ID", ErrInvalidUser)
	}
	p := make([]byte, 0, userIDLen+16)
	p = append(p, u.ID...)
	p = binary.BigEndian.AppendUint64(p, uint64(now.Add(ChallengeTTL).Unix()))
	p = binary.BigEndian.AppendUint64(p, uint64(pwChangedNanos(u.PasswordChangedAt)))
	msg := challengePrefix + base64.RawURLEncoding.EncodeToString(p)
	return msg + "." + base64.RawURLEncoding.EncodeToString(a.challengeMAC(msg)), nil
}

func pwChangedNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// parseChallenge authenticates and decodes s; it fails for anything forged,
// malformed or expired at now.
func (a *Authenticator) parseChallenge(s string, now time.Time) (challenge, error) {
	var c challenge
	if len(s) > 256 || !strings.HasPrefix(s, challengePrefix) {
		return c, errBadChallenge
	}
	i := strings.LastIndexByte(s, '.')
	if i < len(challengePrefix) {
		return c, errBadChallenge
	}
	msg, macText := s[:i], s[i+1:]
	mac, err := base64.RawURLEncoding.Strict().DecodeString(macText)
	if err != nil || !hmac.Equal(mac, a.challengeMAC(msg)) {
		return c, errBadChallenge
	}
	p, err := base64.RawURLEncoding.Strict().DecodeString(msg[len(challengePrefix):])
	if err != nil || len(p) != userIDLen+16 {
		return c, errBadChallenge
	}
	c.userID = string(p[:userIDLen])
	c.expires = time.Unix(int64(binary.BigEndian.Uint64(p[userIDLen:])), 0)
	if n := int64(binary.BigEndian.Uint64(p[userIDLen+8:])); n != 0 {
		c.pwChanged = time.Unix(0, n)
	}
	if !ValidUserID(c.userID) || !now.Before(c.expires) {
		return c, errBadChallenge
	}
	return c, nil
}
