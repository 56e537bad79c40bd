package redact

import (
	"fmt"
	"log/slog"
	"testing"
)

type secretHolder struct{ key []byte }

func (s secretHolder) Format(f fmt.State, _ rune)   { Format(f, "redact.secretHolder") }
func (s secretHolder) LogValue() slog.Value         { return Log("redact.secretHolder") }
func (s secretHolder) MarshalJSON() ([]byte, error) { return JSON("redact.secretHolder") }

type leakyHolder struct{ Key []byte }

func TestLeaksAcceptsARedactingType(t *testing.T) {
	v := secretHolder{key: []byte("CANARY-KEY")}
	for _, x := range []any{v, &v} {
		if bad := Leaks(x, "redact.secretHolder", "CANARY-KEY"); len(bad) > 0 {
			t.Fatalf("a redacting type was reported: %v", bad)
		}
	}
}

// TestLeaksCatchesALeakyType proves the check can fail: a plain struct
// prints its key.
func TestLeaksCatchesALeakyType(t *testing.T) {
	v := leakyHolder{Key: []byte("CANARY-KEY")}
	if bad := Leaks(v, "redact.leakyHolder", "CANARY-KEY"); len(bad) == 0 {
		t.Fatal("a type that prints its key passed the leak check")
	}
}
