package evidence

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/compliance/suite"
	"github.com/hipaakit/hipaakit/signing"
)

func keys(t *testing.T) (*signing.PrivateKey, signing.KeySet) {
	t.Helper()
	k, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := signing.NewKeySet(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return k, ks
}

// TestWriteAndVerify: every file written verifies; an edited byte, a
// renamed file, another deployment's key and an edited signature are each
// refused with the reason named.
func TestWriteAndVerify(t *testing.T) {
	key, trusted := keys(t)
	dir := t.TempDir()
	files := map[string][]byte{"report.json": []byte(`{"controls":[]}` + "\n"), "junit.xml": []byte("<testsuites/>\n")}
	if err := WriteDir(dir, key, files); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name := range files {
		if _, err := Verify(name, read(name), read(name+SigSuffix), trusted); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	content, sig := read("report.json"), read("report.json.sig")
	edited := bytes.Replace(content, []byte("controls"), []byte("Controls"), 1)
	_, other := keys(t)
	badSig := bytes.Replace(sig, []byte("sig "), []byte("sig A"), 1)
	otherSig, err := Sign("report.json", content, mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		file         string
		content, sig []byte
		keys         signing.KeySet
		want         string
	}{
		{"edited", "report.json", edited, sig, trusted, "the file was changed after signing"},
		{"renamed", "summary.json", content, sig, trusted, "the signature is for report.json, not this file"},
		{"other deployment's keys", "report.json", content, sig, other, "which is not among the trusted keys"},
		{"signed by another key", "report.json", content, otherSig, trusted, "which is not among the trusted keys"},
		{"edited signature", "report.json", content, badSig, trusted, "sig is not a base64 ed25519 signature"},
		{"forged signature", "report.json", content, forge(sig), trusted, "the signature does not verify"},
	} {
		_, err := Verify(c.file, c.content, c.sig, c.keys)
		if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrSignature with %q", c.name, err, c.want)
		}
	}
}

func mustKey(t *testing.T) *signing.PrivateKey { k, _ := keys(t); return k }

// forge flips one bit of the signature, keeping its form.
func forge(sig []byte) []byte {
	s, err := ParseSignature(sig)
	if err != nil {
		panic(err)
	}
	s.Sig[0] ^= 1
	return s.Marshal()
}

func TestJUnit(t *testing.T) {
	rs := suite.Results{{Control: suite.ControlAccess, Status: suite.Passed},
		{Control: suite.ControlAudit, Status: suite.NotChecked, Messages: []string{"needs the trail"}},
		{Control: suite.ControlMFA, Status: suite.Failed, Messages: []string{"GET /x as a returned 200 OK, want 403 <&>"}}}
	b, err := JUnit("hipaakit check", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<testsuites name="hipaakit check" tests="3" failures="1" skipped="1" timestamp="2026-01-02T03:04:05Z">`,
		`<testcase name="164.312(d) person or entity authentication, second factor" classname="hipaakit check">`,
		`<failure message="failed">GET /x as a returned 200 OK, want 403 &lt;&amp;&gt;</failure>`, `<skipped message="not checked">needs the trail</skipped>`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JUnit lacks %s:\n%s", want, b)
		}
	}
}

func FuzzParseSignature(f *testing.F) {
	k, err := signing.Generate()
	if err != nil {
		f.Fatal(err)
	}
	sig, err := Sign("report.json", []byte("x"), k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig)
	f.Add([]byte(header + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSignature(b)
		if err != nil {
			if !errors.Is(err, ErrSignature) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(s.Marshal(), b) || !validName(s.File) {
			t.Fatalf("accepted a non-canonical signature file %q", b)
		}
	})
}
