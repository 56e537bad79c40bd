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

// challengeTTL is how long the Challenge of a password step stays valid.
const challengeTTL = 5 * time.Minute

// Challenge format (version 2): "mc2." + base64url(payload) + "." +
// base64url(HMAC-SHA256(key, "mc2." + base64url(payload))), where payload is
// the 26-byte user ID and, big-endian, the expiry (8 bytes, Unix seconds),
// the user's PasswordChangedAt (8 bytes, Unix nanoseconds, 0 for none), the
// last accepted TOTP step (8 bytes) and the number of unused recovery codes
// (2 bytes). The challenge is bound to the password that passed (changing it
// voids the challenge) and to the second-factor state when it was issued, so
// it completes at most one login: the first accepted code changes that state.
// Version 1 (without the last two fields) is no longer accepted; challenges
// live ChallengeTTL, so none can be outstanding across an upgrade.
const challengePrefix = "mc2."

// challengeLen is the payload length.
const challengeLen = userIDLen + 8 + 8 + 8 + 2

var errBadChallenge = errors.New("auth: invalid challenge")

type challenge struct {
	userID    string
	expires   time.Time
	pwChanged time.Time
	lastStep  int64
	codes     int
}

// unused reports whether u's second-factor state is the one the challenge
// was issued for (no code was accepted since).
func (c challenge) unused(u *User) bool {
	return u.MFA.TOTPLastStep == c.lastStep && len(u.MFA.RecoveryCodes) == c.codes
}

// challengeKey returns the HMAC key (Config.ChallengeKey, or a random key
// made once per Authenticator).
func (a *authenticator) challengeKey() []byte {
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

func (a *authenticator) challengeMAC(msg string) []byte {
	m := hmac.New(sha256.New, a.challengeKey())
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (a *authenticator) newChallenge(u *User, now time.Time) (string, error) {
	if !ValidUserID(u.ID) {
		return "", fmt.Errorf("%w: malformed ID", ErrInvalidUser)
	}
	if len(u.MFA.RecoveryCodes) > 0xffff || u.MFA.TOTPLastStep < 0 {
		return "", fmt.Errorf("%w: second-factor state out of range", ErrInvalidUser)
	}
	p := make([]byte, 0, challengeLen)
	p = append(p, u.ID...)
	p = binary.BigEndian.AppendUint64(p, uint64(now.Add(challengeTTL).Unix()))
	p = binary.BigEndian.AppendUint64(p, uint64(pwChangedNanos(u.PasswordChangedAt)))
	p = binary.BigEndian.AppendUint64(p, uint64(u.MFA.TOTPLastStep))
	p = binary.BigEndian.AppendUint16(p, uint16(len(u.MFA.RecoveryCodes)))
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
func (a *authenticator) parseChallenge(s string, now time.Time) (challenge, error) {
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
	if err != nil || len(p) != challengeLen {
		return c, errBadChallenge
	}
	c.userID = string(p[:userIDLen])
	rest := p[userIDLen:]
	c.expires = time.Unix(int64(binary.BigEndian.Uint64(rest)), 0)
	if n := int64(binary.BigEndian.Uint64(rest[8:])); n != 0 {
		c.pwChanged = time.Unix(0, n)
	}
	c.lastStep = int64(binary.BigEndian.Uint64(rest[16:]))
	c.codes = int(binary.BigEndian.Uint16(rest[24:]))
	if !ValidUserID(c.userID) || !now.Before(c.expires) || c.lastStep < 0 {
		return c, errBadChallenge
	}
	return c, nil
}
