package disposal

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/signing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// goldenKey is the fixed signing key of the golden vectors. Never use a
// fixed key outside tests.
func goldenKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
}

func goldenCertificate() Certificate {
	return Certificate{
		Statement: Statement{
			ID:      "dc-000102030405060708090a0b0c0d0e0f",
			Subject: "patient-7f3a",
			Time:    time.Date(2026, 3, 1, 12, 30, 0, 123456789, time.UTC),
			Actor:   "user-42",
			Reason:  "retention expired (encounter P6Y)",
			Method:  MethodCryptoErase,
			KeyIDs:  []uint32{17, 1234567},
		},
		Ledger: LedgerPosition{Seq: 7, Stream: "disposal"},
	}
}

func TestCertificateGolden(t *testing.T) {
	key := goldenKey()
	pub := key.Public().(ed25519.PublicKey)
	got, err := Sign(goldenCertificate(), key)
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join("testdata", "certificate_v1.json")
	pubPath := filepath.Join("testdata", "signing_key_v1.pub.pem")
	if *update {
		pem, err := signing.EncodePublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pubPath, pem, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Sign output differs from golden %s:\n%s", certPath, got)
	}
	pemBytes, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	goldenPub, err := signing.ParseKeySet(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyCertificate(want, goldenPub)
	if err != nil {
		t.Fatalf("golden certificate does not verify: %v", err)
	}
	wantCert := goldenCertificate()
	if c.ID != wantCert.ID || c.Subject != wantCert.Subject || !c.Time.Equal(wantCert.Time) || c.Ledger != wantCert.Ledger ||
		len(c.KeyIDs) != 2 || c.KeyIDs[1] != 1234567 || c.Method != MethodCryptoErase {
		t.Fatalf("golden certificate decoded as %+v", c)
	}
}

func TestCertificateRejectsTampering(t *testing.T) {
	key := goldenKey()
	pub := key.Public().(ed25519.PublicKey)
	good, err := Sign(goldenCertificate(), key)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := Sign(goldenCertificate(), otherKey)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("fixture lacks %q", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	// Re-signing with another key but claiming the golden key ID.
	forgedSameID := bytes.Replace(forged, []byte(signing.KeyID(otherKey.Public().(ed25519.PublicKey))), []byte(signing.KeyID(pub)), 1)
	// Altered statement with a recomputed statement hash (only the signature can catch it).
	alt := goldenCertificate()
	alt.Subject = "patient-0000"
	altSigned, _ := Sign(alt, otherKey)
	_, altSig, _ := ParseCertificate(altSigned)
	_, goodSig, _ := ParseCertificate(good)
	altered := bytes.Replace(altSigned, []byte(altSig.Value), []byte(goodSig.Value), 1)
	altered = bytes.Replace(altered, []byte(altSig.KeyID), []byte(goodSig.KeyID), 1)

	cases := map[string]struct {
		data   []byte
		reason string
	}{
		"other key":         {forged, "signed by another key"},
		"forged key id":     {forgedSameID, "bad signature"},
		"altered subject":   {altered, "bad signature"},
		"altered hash":      {replace(`"patient-7f3a"`, `"patient-7f3b"`), "statement hash does not match"},
		"altered seq":       {replace(`"seq": 7`, `"seq": 8`), "bad signature"},
		"non-canonical":     {replace(`"seq": 7`, `"seq":7`), "not in canonical form"},
		"unknown field":     {replace(`"seq": 7,`, `"seq": 7, "x": 1,`), "malformed"},
		"future version":    {replace(`"version": 1`, `"version": 2`), "unsupported version"},
		"not json":          {[]byte("hello"), "not a certificate"},
		"empty":             {nil, "not a certificate"},
		"truncated":         {good[:len(good)/2], "not a certificate"},
		"bad signature b64": {replace(goodSig.Value, "!!"+goodSig.Value[2:]), "malformed signature"},
		"other algorithm":   {replace(`"alg": "ed25519"`, `"alg": "rsa"`), "unknown signature algorithm"},
		"trailing garbage":  {append(bytes.Clone(good), "x"...), "not a certificate"},
		"non-UTC time":      {replace(`Z"`, `+01:00"`), "time must be UTC"},
		"unsorted key ids":  {replace("17,\n      1234567", "1234567,\n      17"), "key ids must be sorted and unique"},
		"unknown method":    {replace(MethodCryptoErase, "overwrite"), "unknown method"},
		"control in reason": {replace("retention expired", `retention\u0000expired`), "malformed actor or reason"},
		"wrong format name": {replace(CertificateFormat, "x"), "not a certificate"},
		"oversized":         {bytes.Repeat([]byte{' '}, MaxCertificateSize+1), "too large"},
		"bad subject":       {replace(`"patient-7f3a"`, `"_system"`), "malformed subject"},
		"zero ledger seq":   {replace(`"seq": 7`, `"seq": 0`), "malformed ledger position"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := VerifyCertificate(tc.data, trust(t, pub))
			var ce *CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want *CertificateError", err)
			}
			if ce.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", ce.Reason, tc.reason)
			}
			wantSentinel := ErrInvalidCertificate
			if tc.reason == "unsupported version" {
				wantSentinel = ErrUnsupportedVersion
			}
			if !errors.Is(err, wantSentinel) {
				t.Fatalf("%v does not match %v", err, wantSentinel)
			}
		})
	}
	if _, err := VerifyCertificate(good, trust(t, pub)); err != nil {
		t.Fatalf("untampered certificate: %v", err)
	}
	if _, err := VerifyCertificate(good, signing.KeySet{}); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("no trusted key: %v", err)
	}
	if _, err := VerifyCertificate(forged, trust(t, pub)); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("certificate of an untrusted key: %v", err)
	}
	// After a rotation the set trusts both keys: each certificate verifies
	// with the key its signature names.
	rotated := trust(t, otherKey.Public().(ed25519.PublicKey), pub)
	for _, data := range [][]byte{good, forged} {
		if _, err := VerifyCertificate(data, rotated); err != nil {
			t.Fatalf("certificate under a rotated key set: %v", err)
		}
	}
}

func TestSignIsDeterministicAndValidates(t *testing.T) {
	key := goldenKey()
	a, _ := Sign(goldenCertificate(), key)
	b, _ := Sign(goldenCertificate(), key)
	if !bytes.Equal(a, b) {
		t.Fatal("signing the same certificate twice gave different bytes")
	}
	bad := goldenCertificate()
	bad.Ledger.Seq = 0
	if _, err := Sign(bad, key); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("Sign accepted a certificate without a ledger position: %v", err)
	}
	if _, err := Sign(goldenCertificate(), key[:10]); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("short key: %v", err)
	}
}

func TestCertificateErrorsDoNotEchoContent(t *testing.T) {
	const canary = "CANARY-REASON-9f2c"
	c := goldenCertificate()
	c.Reason = canary
	data, err := Sign(c, goldenKey())
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`"seq": 7`), []byte(`"seq": 9`), 1)
	_, err = VerifyCertificate(data, trust(t, goldenKey().Public().(ed25519.PublicKey)))
	if err == nil || strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "patient-7f3a") {
		t.Fatalf("error %v echoes certificate content", err)
	}
}

func FuzzParseCertificate(f *testing.F) {
	good, _ := Sign(goldenCertificate(), goldenKey())
	f.Add(good)
	f.Add([]byte(`{"format":"hipaakit-disposal-certificate","version":1}`))
	f.Add([]byte("{}"))
	trusted := trust(f, goldenKey().Public().(ed25519.PublicKey))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, sig, err := ParseCertificate(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidCertificate) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever parses is canonical: encoding it again gives the input.
		if got := encodeCertFile(certFile{Format: CertificateFormat, Version: CertificateVersion, Certificate: c, Signature: sig}); !bytes.Equal(got, data) {
			t.Fatalf("non-canonical input accepted")
		}
		if _, err := VerifyCertificate(data, trusted); err != nil && !errors.Is(err, ErrInvalidCertificate) {
			t.Fatalf("untyped verify error %v", err)
		}
	})
}

// opaqueSigner hides the private key behind crypto.Signer, as an HSM does.
type opaqueSigner struct {
	key    ed25519.PrivateKey
	broken bool
}

func (s opaqueSigner) Public() crypto.PublicKey { return s.key.Public() }

func (s opaqueSigner) Sign(r io.Reader, msg []byte, o crypto.SignerOpts) ([]byte, error) {
	sig, err := s.key.Sign(r, msg, o)
	if s.broken {
		sig[0] ^= 1
	}
	return sig, err
}

func TestSignWithCryptoSigner(t *testing.T) {
	key := goldenKey()
	direct, _ := Sign(goldenCertificate(), key)
	via, err := Sign(goldenCertificate(), opaqueSigner{key: key})
	if err != nil || !bytes.Equal(direct, via) {
		t.Fatalf("crypto.Signer: %v", err)
	}
	if _, err := Sign(goldenCertificate(), opaqueSigner{key: key, broken: true}); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("faulty signer: %v", err)
	}
	if _, err := Sign(goldenCertificate(), nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("nil signer: %v", err)
	}
}
