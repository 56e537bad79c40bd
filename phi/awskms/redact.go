package awskms

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints awskms.KEK{[redacted]} under every verb.
func (KEK) Format(f fmt.State, _ rune) { redact.Format(f, "awskms.KEK") }

// LogValue redacts awskms.KEK in slog output.
func (KEK) LogValue() slog.Value { return redact.Log("awskms.KEK") }

// MarshalJSON redacts awskms.KEK in JSON.
func (KEK) MarshalJSON() ([]byte, error) { return redact.JSON("awskms.KEK") }
