package audittest

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints audittest.Memory{[redacted]} under every verb.
func (*Memory) Format(f fmt.State, _ rune) { redact.Format(f, "audittest.Memory") }

// LogValue redacts audittest.Memory in slog output.
func (*Memory) LogValue() slog.Value { return redact.Log("audittest.Memory") }

// MarshalJSON redacts audittest.Memory in JSON.
func (*Memory) MarshalJSON() ([]byte, error) { return redact.JSON("audittest.Memory") }
