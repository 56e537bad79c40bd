package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// A passkey challenge (the WebAuthn challenge of one ceremony) is
// stateless, so that a ceremony begun on one replica finishes on any
// other that shares Config.ChallengeKey and the AttemptStore. Version 1 is
// 42 bytes:
//
//	version 1 (1 byte) || ceremony kind (1: registration, 2: passwordless
//	login, 3: second factor) || expiry (8, big-endian Unix seconds) ||
//	nonce (16 random bytes) || tag (16)
//
// where tag is the first 16 bytes of HMAC-SHA256 under the challenge key
// over "hipaakit/auth/passkey-challenge/v1", a zero byte, the first 26
// bytes and the user ID the ceremony is for ("" for a passwordless login)
// (testdata/passkey_challenge_v1.txt). A challenge is used at most once:
// Finish records it in the AttemptStore before checking the response, so
// a replayed response is refused whatever its sign counter.
const (
	pkChallengeVersion = 1
	pkChallengeHead    = 26
	pkChallengeLen     = pkChallengeHead + 16
	pkChallengeContext = "hipaakit/auth/passkey-challenge/v1"
)

// newPasskeyChallenge returns a challenge of kind for userID, valid until
// now plus ttl.
func (a *authenticator) newPasskeyChallenge(kind ceremonyKind, userID string, now time.Time, ttl time.Duration) []byte {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return a.passkeyChallenge(kind, userID, now.Add(ttl), nonce)
}

// passkeyChallenge encodes a challenge (see the format above).
func (a *authenticator) passkeyChallenge(kind ceremonyKind, userID string, expires time.Time, nonce [16]byte) []byte {
	b := make([]byte, 0, pkChallengeLen)
	b = append(b, pkChallengeVersion, byte(kind))
	b = binary.BigEndian.AppendUint64(b, uint64(expires.Unix()))
	b = append(b, nonce[:]...)
	return append(b, a.passkeyChallengeTag(b, userID)...)
}

func (a *authenticator) passkeyChallengeTag(head []byte, userID string) []byte {
	m := hmac.New(sha256.New, a.challengeKey())
	m.Write([]byte(pkChallengeContext))
	m.Write([]byte{0})
	m.Write(head)
	m.Write([]byte(userID))
	return m.Sum(nil)[:16]
}

// checkPasskeyChallenge authenticates the challenge a response claims
// (base64url, as in its client data) for kind and userID at now. It
// returns the raw challenge, or the refusal reason: "unknown_challenge"
// for anything not issued by a replica of this deployment for this user
// and ceremony, "expired" for one past its expiry.
func (a *authenticator) checkPasskeyChallenge(claimed string, kind ceremonyKind, userID string, now time.Time) ([]byte, string) {
	if len(claimed) > 2*pkChallengeLen {
		return nil, "unknown_challenge"
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(claimed)
	// The decoder skips '\r' and '\n': only the one canonical spelling of
	// a challenge is its spelling.
	if err != nil || len(b) != pkChallengeLen || base64.RawURLEncoding.EncodeToString(b) != claimed || b[0] != pkChallengeVersion || ceremonyKind(b[1]) != kind ||
		!hmac.Equal(b[pkChallengeHead:], a.passkeyChallengeTag(b[:pkChallengeHead], userID)) {
		return nil, "unknown_challenge"
	}
	if !now.Before(time.Unix(int64(binary.BigEndian.Uint64(b[2:10])), 0)) {
		return nil, "expired"
	}
	return b, ""
}

// useOnce records the single use of key at now in the AttemptStore, which
// replicas share; it reports false when key was used before, within
// forget. Two concurrent uses of one key: exactly one gets true.
func (a *authenticator) useOnce(ctx context.Context, key string, now time.Time, forget time.Duration) (bool, error) {
	w, err := a.attempts.Reserve(ctx, attemptKey(key), now, forget, func(n int, _ time.Time) time.Duration {
		if n > 0 {
			return time.Nanosecond
		}
		return 0
	})
	return err == nil && w == 0, err
}

// usePasskeyChallenge records the use of raw (a checked challenge); false:
// it was used before.
func (pk *passkeys) usePasskeyChallenge(ctx context.Context, raw []byte, now time.Time) (bool, error) {
	// Forgotten only well after it expired, whatever the replicas' clocks.
	return pk.a.useOnce(ctx, "pkc\x00"+string(raw), now, 2*pk.cfg.ChallengeTTL+time.Minute)
}
