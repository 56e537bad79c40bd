package auth_test

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

// softAuthenticator is a software WebAuthn authenticator for the Go tests
// of the ceremonies: one ES256 credential, attestation "none", a sign
// counter that the test can set.
type softAuthenticator struct {
	t       testing.TB
	rpID    string
	origin  string
	key     *ecdsa.PrivateKey
	credID  []byte
	handle  []byte // user handle given at registration
	counter uint32
	uv      bool // sets the user-verified flag
}

func newSoftAuthenticator(t testing.TB, rpID, origin string) *softAuthenticator {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softAuthenticator{t: t, rpID: rpID, origin: origin, key: k, credID: id, uv: true}
}

var b64 = base64.RawURLEncoding

// challengeOf reads publicKey.challenge (and user.id) from Begin's options.
func challengeOf(t testing.TB, options []byte) (challenge string, userID []byte) {
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

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return b
}

func (a *softAuthenticator) flags() byte {
	f := byte(0x01) // UP
	if a.uv {
		f |= 0x04
	}
	return f
}

func (a *softAuthenticator) authData(flags byte, extra []byte) []byte {
	h := sha256.Sum256([]byte(a.rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.counter)
	return append(out, extra...)
}

// register answers creation options with an attestation ("none").
func (a *softAuthenticator) register(options []byte) []byte {
	a.t.Helper()
	challenge, uid := challengeOf(a.t, options)
	a.handle = uid
	x, y := a.key.X.FillBytes(make([]byte, 32)), a.key.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		a.t.Fatal(err)
	}
	att := make([]byte, 16) // AAGUID zero
	att = binary.BigEndian.AppendUint16(att, uint16(len(a.credID)))
	att = append(append(att, a.credID...), cose...)
	ad := a.authData(a.flags()|0x40, att)
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		a.t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(a.clientData("webauthn.create", challenge)),
			"attestationObject": b64.EncodeToString(obj), "transports": []string{"internal"}},
		"clientExtensionResults": map[string]any{}})
	return resp
}

// assert answers request options with an assertion, counting once.
func (a *softAuthenticator) assert(options []byte) []byte {
	a.t.Helper()
	challenge, _ := challengeOf(a.t, options)
	a.counter++
	return a.assertWith(challenge, a.clientData("webauthn.get", challenge))
}

func (a *softAuthenticator) assertWith(challenge string, cd []byte) []byte {
	a.t.Helper()
	ad := a.authData(a.flags(), nil)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(a.handle)},
		"clientExtensionResults": map[string]any{}})
	return resp
}
