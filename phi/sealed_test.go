package phi_test

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

var (
	_ driver.Valuer = phi.Sealed(nil)
	_ sql.Scanner   = (*phi.Sealed)(nil)
)

func TestSealedPrintsNoBytes(t *testing.T) {
	e := newEnv(t)
	s := mustSeal(t, e.vault, phi.Binding{Subject: "p", Field: "f"}, "0123456789abcdefghijklmnopqrstuvwx")
	want := fmt.Sprintf("phi.Sealed(v1, %d bytes)", len(s))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		if got := fmt.Sprintf(verb, s); got != want {
			t.Errorf("%s: %q", verb, got)
		}
	}
	if got := fmt.Sprint(phi.Sealed(nil), phi.Sealed{9, 9}); got != "phi.Sealed(nil) phi.Sealed(invalid, 2 bytes)" {
		t.Errorf("nil/invalid: %q", got)
	}
	// JSON carries the ciphertext (base64): it is safe to transport.
	js, _ := json.Marshal(s)
	var back phi.Sealed
	if err := json.Unmarshal(js, &back); err != nil || string(back) != string(s) {
		t.Fatalf("JSON round trip: %v", err)
	}
}

func TestSealedValuerScanner(t *testing.T) {
	s := phi.Sealed{1, 2, 3}
	v, err := s.Value()
	if b, ok := v.([]byte); err != nil || !ok || string(b) != string(s) {
		t.Fatalf("Value: %T %v", v, err)
	}
	if v, err := phi.Sealed(nil).Value(); v != nil || err != nil {
		t.Fatal("nil Sealed is not NULL")
	}
	var got phi.Sealed
	src := []byte{4, 5}
	if err := got.Scan(src); err != nil || string(got) != "\x04\x05" {
		t.Fatal(err)
	}
	src[0] = 0
	if got[0] != 4 {
		t.Fatal("Scan did not copy")
	}
	if err := got.Scan(nil); err != nil || got != nil {
		t.Fatal("Scan(nil)")
	}
	if err := got.Scan([]byte{}); err != nil || got == nil || len(got) != 0 {
		t.Fatal("Scan(empty) must be empty, not NULL")
	}
	if err := got.Scan(42); err == nil {
		t.Fatal("Scan(int) succeeded")
	}
}

func TestParseHeader(t *testing.T) {
	if _, err := phi.ParseHeader(nil); !errors.Is(err, phi.ErrMalformed) {
		t.Fatal(err)
	}
	if _, err := phi.ParseHeader([]byte{2, 0, 0}); !errors.Is(err, phi.ErrUnsupportedVersion) {
		t.Fatal(err)
	}
	if _, err := phi.ParseHeader(make([]byte, 40)); !errors.Is(err, phi.ErrUnsupportedVersion) {
		t.Fatal(err)
	}
	b := make([]byte, 33)
	b[0], b[1], b[4] = 1, 0xAB, 0x01
	h, err := phi.ParseHeader(b)
	if err != nil || h.Version != 1 || h.KeyID != 0xAB000001 {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := phi.ParseHeader(b[:32]); !errors.Is(err, phi.ErrMalformed) {
		t.Fatal(err)
	}
}
