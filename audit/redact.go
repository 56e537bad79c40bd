package audit

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints audit.FileOptions{[redacted]} under every verb.
func (FileOptions) Format(f fmt.State, _ rune) { redact.Format(f, "audit.FileOptions") }

// LogValue redacts audit.FileOptions in slog output.
func (FileOptions) LogValue() slog.Value { return redact.Log("audit.FileOptions") }

// MarshalJSON redacts audit.FileOptions in JSON.
func (FileOptions) MarshalJSON() ([]byte, error) { return redact.JSON("audit.FileOptions") }

// Format prints audit.FileLog{[redacted]} under every verb.
func (*FileLog) Format(f fmt.State, _ rune) { redact.Format(f, "audit.FileLog") }

// LogValue redacts audit.FileLog in slog output.
func (*FileLog) LogValue() slog.Value { return redact.Log("audit.FileLog") }

// MarshalJSON redacts audit.FileLog in JSON.
func (*FileLog) MarshalJSON() ([]byte, error) { return redact.JSON("audit.FileLog") }
