package auth_test

import (
	"encoding/base64"
	"testing"

	"github.com/hipaakit/hipaakit/auth/authtest"
)

// softAuthenticator is the software WebAuthn authenticator of the
// ceremonies' Go tests (authtest.SoftAuthenticator).
type softAuthenticator = authtest.SoftAuthenticator

func newSoftAuthenticator(t testing.TB, rpID, origin string) *softAuthenticator {
	t.Helper()
	return authtest.NewSoftAuthenticator(t, rpID, origin)
}

var b64 = base64.RawURLEncoding

// challengeOf reads publicKey.challenge (and user.id) from Begin's options.
func challengeOf(t testing.TB, options []byte) (challenge string, userID []byte) {
	t.Helper()
	return authtest.ChallengeOf(t, options)
}
