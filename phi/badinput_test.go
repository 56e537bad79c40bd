package phi_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

// openErrors are the typed errors bad input may produce.
var openErrors = []error{phi.ErrMalformed, phi.ErrUnsupportedVersion, phi.ErrTampered}

func typed(err error) bool {
	for _, e := range openErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func TestOpenBadInput(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "p1", Field: "ssn"}
	s := mustSeal(t, e.vault, b, "123-45-6789")
	mustSeal(t, e.vault, phi.Binding{Subject: "p2", Field: "ssn"}, "x")

	if _, err := e.vault.Open(ctx, b, nil); !errors.Is(err, phi.ErrMalformed) {
		t.Fatalf("nil: %v", err)
	}
	if _, err := e.vault.Open(ctx, b, phi.Sealed{}); !errors.Is(err, phi.ErrMalformed) {
		t.Fatalf("empty: %v", err)
	}
	for n := 1; n < len(s); n++ {
		_, err := e.vault.Open(ctx, b, s[:n])
		want := phi.ErrMalformed
		if n >= 33 {
			want = phi.ErrTampered
		}
		if !errors.Is(err, want) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, err := e.vault.Open(ctx, b, append(bytes.Clone(s), 0)); !errors.Is(err, phi.ErrTampered) {
		t.Fatalf("extended: %v", err)
	}
	for i := range len(s) * 8 {
		f := bytes.Clone(s)
		f[i/8] ^= 1 << (i % 8)
		_, err := e.vault.Open(ctx, b, f)
		want := phi.ErrTampered
		if i < 8 {
			want = phi.ErrUnsupportedVersion
		}
		if !errors.Is(err, want) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	for _, v := range []byte{0, 2, 0x7f, 0xff} {
		f := bytes.Clone(s)
		f[0] = v
		if _, err := e.vault.Open(ctx, b, f); !errors.Is(err, phi.ErrUnsupportedVersion) {
			t.Fatalf("version %d: %v", v, err)
		}
	}
	for _, wrong := range []phi.Binding{{Subject: "p2", Field: "ssn"}, {Subject: "p1", Field: "dob"}} {
		if _, err := e.vault.Open(ctx, wrong, s); !errors.Is(err, phi.ErrTampered) {
			t.Fatalf("wrong binding %+v: %v", wrong, err)
		}
	}
	// Errors never carry the sealed bytes.
	_, err := e.vault.Open(ctx, phi.Binding{Subject: "p2", Field: "ssn"}, s)
	if bytes.Contains([]byte(err.Error()), []byte(hex.EncodeToString(s[:8]))) {
		t.Fatal("error echoes input")
	}
}

func TestCorruptStoredKeyset(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "p1", Field: "f"}
	s := mustSeal(t, e.vault, b, "v")
	w, _ := e.store.Get(ctx, "p1")
	for i := 0; i < len(w.Ciphertext); i += 7 {
		c := w
		c.Ciphertext = bytes.Clone(w.Ciphertext)
		c.Ciphertext[i] ^= 0x40
		cur, _ := e.store.Get(ctx, "p1")
		if err := e.store.Update(ctx, c, cur.Version); err != nil {
			t.Fatal(err)
		}
		fresh, _ := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: e.kek})
		_, err := fresh.Open(ctx, b, s)
		if !errors.Is(err, phi.ErrTampered) && !errors.Is(err, phi.ErrMalformed) {
			t.Fatalf("keyset byte %d flipped: %v", i, err)
		}
	}
}

// FuzzOpen feeds arbitrary bytes to Open with the golden keys: it must never
// panic, fail only with a typed error, and succeed only on a genuine vector.
func FuzzOpen(f *testing.F) {
	g, v := loadGolden(f)
	genuine := map[string]bool{}
	for _, vec := range g.Vectors {
		s, _ := hex.DecodeString(vec.Sealed)
		genuine[string(s)+"\x00"+vec.Binding.Field] = true
		f.Add(s, vec.Binding.Field)
	}
	f.Fuzz(func(t *testing.T, data []byte, field string) {
		b := phi.Binding{Subject: "patient-0001", Field: field}
		pt, err := v.Open(ctx, b, data)
		if err != nil {
			if !typed(err) && !errors.Is(err, phi.ErrInvalidBinding) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if !genuine[string(data)+"\x00"+field] {
			t.Fatalf("forged value opened (%d bytes)", pt.Len())
		}
	})
}

// FuzzParseHeader checks the sealed-value parser on arbitrary bytes.
func FuzzParseHeader(f *testing.F) {
	g, _ := loadGolden(f)
	for _, vec := range g.Vectors {
		s, _ := hex.DecodeString(vec.Sealed)
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := phi.ParseHeader(data)
		if err != nil {
			if !errors.Is(err, phi.ErrMalformed) && !errors.Is(err, phi.ErrUnsupportedVersion) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if h.Version != 1 || len(data) < 33 || data[0] != 1 ||
			h.KeyID != uint32(data[1])<<24|uint32(data[2])<<16|uint32(data[3])<<8|uint32(data[4]) {
			t.Fatalf("bad header %+v for %d bytes", h, len(data))
		}
		_ = phi.Sealed(data).String()
	})
}
