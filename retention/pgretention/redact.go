package pgretention

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints pgretention.AuditPurgeOptions{[redacted]} under every verb.
func (AuditPurgeOptions) Format(f fmt.State, _ rune) {
	redact.Format(f, "pgretention.AuditPurgeOptions")
}

// LogValue redacts pgretention.AuditPurgeOptions in slog output.
func (AuditPurgeOptions) LogValue() slog.Value { return redact.Log("pgretention.AuditPurgeOptions") }

// MarshalJSON redacts pgretention.AuditPurgeOptions in JSON.
func (AuditPurgeOptions) MarshalJSON() ([]byte, error) {
	return redact.JSON("pgretention.AuditPurgeOptions")
}
