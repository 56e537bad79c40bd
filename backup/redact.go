package backup

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints backup.Repository{[redacted]} under every verb.
func (Repository) Format(f fmt.State, _ rune) { redact.Format(f, "backup.Repository") }

// LogValue redacts backup.Repository in slog output.
func (Repository) LogValue() slog.Value { return redact.Log("backup.Repository") }

// MarshalJSON redacts backup.Repository in JSON.
func (Repository) MarshalJSON() ([]byte, error) { return redact.JSON("backup.Repository") }
