package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// SoftAuthenticator is a software WebAuthn authenticator for Go tests of
// the passkey ceremonies (auth.Service's BeginPasskey*/FinishPasskey*):
// one ES256 credential, attestation "none", and fields a test changes to
// build wrong answers (another origin or RP ID, no user verification, a
// sign counter that goes back).
type SoftAuthenticator struct {
	t testing.TB
	// RPID and Origin are those the authenticator signs for.
	RPID, Origin string
	// Key is the credential's private key and CredentialID its ID.
	Key          *ecdsa.PrivateKey
	CredentialID []byte
	// Handle is the user handle given at registration.
	Handle []byte
	// Counter is the sign counter; Assert adds one before signing.
	Counter uint32
	// UV sets the user-verified flag (default true).
	UV bool
}

// NewSoftAuthenticator returns an authenticator with a new credential for
// rpID and origin.
func NewSoftAuthenticator(t testing.TB, rpID, origin string) *SoftAuthenticator {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &SoftAuthenticator{t: t, RPID: rpID, Origin: origin, Key: k, CredentialID: id, UV: true}
}

var b64 = base64.RawURLEncoding

// ChallengeOf reads publicKey.challenge (and user.id) from the options a
// Begin call returned.
func ChallengeOf(t testing.TB, options []byte) (challenge string, userID []byte) {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("options: %v", err)
	}
	uid, _ := b64.DecodeString(o.PublicKey.User.ID)
	return o.PublicKey.Challenge, uid
}

// ClientData is the client data JSON of a ceremony of type typ
// ("webauthn.create", "webauthn.get") for challenge, from Origin.
func (a *SoftAuthenticator) ClientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

// Flags are the authenticator-data flags: user present, and user verified
// with UV.
func (a *SoftAuthenticator) Flags() byte {
	f := byte(0x01) // UP
	if a.UV {
		f |= 0x04
	}
	return f
}

// AuthData is the authenticator data for RPID with flags, Counter and
// extra (attested credential data).
func (a *SoftAuthenticator) AuthData(flags byte, extra []byte) []byte {
	h := sha256.Sum256([]byte(a.RPID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.Counter)
	return append(out, extra...)
}

// Register answers creation options with an attestation ("none").
func (a *SoftAuthenticator) Register(options []byte) []byte {
	a.t.Helper()
	challenge, uid := ChallengeOf(a.t, options)
	a.Handle = uid
	x, y := a.Key.X.FillBytes(make([]byte, 32)), a.Key.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		a.t.Fatal(err)
	}
	att := make([]byte, 16) // AAGUID zero
	att = binary.BigEndian.AppendUint16(att, uint16(len(a.CredentialID)))
	att = append(append(att, a.CredentialID...), cose...)
	ad := a.AuthData(a.Flags()|0x40, att)
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		a.t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(a.CredentialID), "rawId": b64.EncodeToString(a.CredentialID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(a.ClientData("webauthn.create", challenge)),
			"attestationObject": b64.EncodeToString(obj), "transports": []string{"internal"}},
		"clientExtensionResults": map[string]any{}})
	return resp
}

// Assert answers request options with an assertion, counting once.
func (a *SoftAuthenticator) Assert(options []byte) []byte {
	a.t.Helper()
	challenge, _ := ChallengeOf(a.t, options)
	a.Counter++
	return a.AssertWith(challenge, a.ClientData("webauthn.get", challenge))
}

// AssertWith answers challenge with the client data cd (the counter
// unchanged).
func (a *SoftAuthenticator) AssertWith(challenge string, cd []byte) []byte {
	a.t.Helper()
	ad := a.AuthData(a.Flags(), nil)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.Key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(a.CredentialID), "rawId": b64.EncodeToString(a.CredentialID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(a.Handle)},
		"clientExtensionResults": map[string]any{}})
	return resp
}
