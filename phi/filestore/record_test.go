package filestore

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenKeyset and goldenTombstone are the records in testdata/golden-v1.
func goldenKeyset() *record {
	return &record{keyset: phi.WrappedKeyset{
		Ref:        "patient-0001",
		Version:    3,
		KEKID:      "local:3f2a9c01",
		Ciphertext: []byte("\x01\x02wrapped-keyset-bytes\xfe\xff"),
		KeyIDs:     []uint32{0x1234abcd, 42},
		Created:    time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		Updated:    time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC),
	}}
}

func goldenTombstone() *record {
	r := &record{tombstone: true, shredded: time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)}
	r.keyset.Ref = "patient-0002"
	return r
}

// TestGoldenRecords checks that this code still reads the version-1 records
// committed under testdata/golden-v1 and writes them byte for byte.
func TestGoldenRecords(t *testing.T) {
	dir := filepath.Join("testdata", "golden-v1")
	for _, rec := range []*record{goldenKeyset(), goldenTombstone()} {
		path := filepath.Join(dir, fileName(rec.keyset.Ref))
		if *update {
			if err := os.WriteFile(path, rec.encode(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, rec.encode()) {
			t.Errorf("%s: encoding changed from the committed version-1 record", path)
		}
		got, err := decode(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got.tombstone != rec.tombstone || !got.shredded.Equal(rec.shredded) || !sameKeyset(got.keyset, rec.keyset) {
			t.Errorf("%s: decoded %+v, want %+v", path, got, rec)
		}
	}
}

func sameKeyset(a, b phi.WrappedKeyset) bool {
	return a.Ref == b.Ref && a.Version == b.Version && a.KEKID == b.KEKID &&
		bytes.Equal(a.Ciphertext, b.Ciphertext) && slices.Equal(a.KeyIDs, b.KeyIDs) &&
		a.Created.Equal(b.Created) && a.Updated.Equal(b.Updated)
}

// TestDecodeRejectsDamage flips every bit and truncates at every length of a
// valid record: each damaged copy is refused with a typed error.
func TestDecodeRejectsDamage(t *testing.T) {
	for _, rec := range []*record{goldenKeyset(), goldenTombstone()} {
		b := rec.encode()
		for i := range len(b) * 8 {
			c := bytes.Clone(b)
			c[i/8] ^= 1 << (i % 8)
			if _, err := decode(c); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("bit %d flipped: decode error %v", i, err)
			}
		}
		for n := range len(b) {
			if _, err := decode(b[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated to %d: decode error %v", n, err)
			}
		}
		if _, err := decode(append(bytes.Clone(b), 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("extended: decode error %v", err)
		}
	}
}

func TestDecodeFutureVersion(t *testing.T) {
	b := goldenKeyset().encode()
	b[4] = 2
	if _, err := decode(b); !errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("version 2 record: %v, want ErrUnsupportedVersion", err)
	}
}

func TestFileNames(t *testing.T) {
	refs := []string{"a", "A", "_hipaakit.blind-index", "x:y@z+w", string(bytes.Repeat([]byte("Z"), phi.MaxRefLen))}
	seen := map[string]bool{}
	for _, ref := range refs {
		name := fileName(ref)
		if len(name) > 255-32 {
			t.Errorf("%q: file name of %d bytes leaves no room for the temporary suffix", ref, len(name))
		}
		for _, c := range []byte(name[1:]) {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'v') {
				t.Fatalf("%q: file name %q has character %q", ref, name, c)
			}
		}
		if seen[name] {
			t.Fatalf("%q: file name %q collides", ref, name)
		}
		seen[name] = true
		if got, ok := refFromName(name); !ok || got != ref {
			t.Errorf("refFromName(%q) = %q, %v; want %q", name, got, ok, ref)
		}
	}
	for _, name := range []string{"k", "FORMAT", ".lock", "kA0", "k0", "k01", ".k60.tmp-1"} {
		if ref, ok := refFromName(name); ok {
			t.Errorf("refFromName(%q) accepted a non-canonical name as %q", name, ref)
		}
	}
}

// FuzzDecode checks that decode never panics and that whatever it accepts
// re-encodes to the same bytes (the format has one encoding per record).
func FuzzDecode(f *testing.F) {
	f.Add(goldenKeyset().encode())
	f.Add(goldenTombstone().encode())
	f.Add([]byte("HKKS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(rec.encode(), b) {
			t.Fatal("accepted a record that does not re-encode to its bytes")
		}
	})
}
