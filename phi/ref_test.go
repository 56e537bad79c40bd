package phi_test

import (
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

func TestValidRef(t *testing.T) {
	for _, ok := range []string{"a", "patient-1", "550e8400-e29b-41d4-a716-446655440000", "t:x@y+z.w_v", "_hipaakit.blind-index", strings.Repeat("a", 128)} {
		if !phi.ValidRef(ok) {
			t.Errorf("ValidRef(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", `a\b`, "-x", "+x", ".hidden", "a b", "é", "a\x00", strings.Repeat("a", 129)} {
		if phi.ValidRef(bad) {
			t.Errorf("ValidRef(%q) = true", bad)
		}
	}
	if phi.ValidSubject("_x") || !phi.ValidSubject("x_") || phi.ValidSubject("") {
		t.Error("ValidSubject and the reserved prefix")
	}
}

func TestValidRefEveryByte(t *testing.T) {
	const allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:@+"
	for c := 0; c < 256; c++ {
		want := strings.IndexByte(allowed, byte(c)) >= 0
		if got := phi.ValidRef("a" + string([]byte{byte(c)})); got != want {
			t.Errorf("byte %#x: ValidRef = %v, want %v", c, got, want)
		}
	}
}
