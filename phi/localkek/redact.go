package localkek

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints localkek.KEK{[redacted]} under every verb.
func (KEK) Format(f fmt.State, _ rune) { redact.Format(f, "localkek.KEK") }

// LogValue redacts localkek.KEK in slog output.
func (KEK) LogValue() slog.Value { return redact.Log("localkek.KEK") }

// MarshalJSON redacts localkek.KEK in JSON.
func (KEK) MarshalJSON() ([]byte, error) { return redact.JSON("localkek.KEK") }
