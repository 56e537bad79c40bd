package auth

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// FuzzPasskeyChallenge: the challenge check never panics and accepts only
// the one challenge issued for its ceremony, user and time; anything else
// (a flipped bit, another encoding, another length) is refused.
func FuzzPasskeyChallenge(f *testing.F) {
	key := make([]byte, 32)
	a, err := NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: audit.Discard{}, ChallengeKey: key, hasher: testHasher(f)}, nil)
	if err != nil {
		f.Fatal(err)
	}
	const user = "k5mqhc2wztobhwjzjnd6v3bq2i"
	expires := time.Unix(1772366700, 0)
	valid := base64.RawURLEncoding.EncodeToString(a.passkeyChallenge(ceremonyRegister, user, expires, [16]byte{1}))
	f.Add(valid)
	f.Add(valid + "A")
	f.Add(valid[:len(valid)-1] + "B")
	f.Add(base64.StdEncoding.EncodeToString(a.passkeyChallenge(ceremonyRegister, user, expires, [16]byte{1})))
	f.Add("")
	f.Fuzz(func(t *testing.T, claim string) {
		raw, reason := a.checkPasskeyChallenge(claim, ceremonyRegister, user, expires.Add(-time.Minute))
		if (reason == "") != (claim == valid) {
			t.Fatalf("claim %q: reason %q", claim, reason)
		}
		if reason == "" && base64.RawURLEncoding.EncodeToString(raw) != claim {
			t.Fatal("accepted bytes differ from the claim")
		}
	})
}
