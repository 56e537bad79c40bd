package pgaudit

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints pgaudit.Options{[redacted]} under every verb.
func (Options) Format(f fmt.State, _ rune) { redact.Format(f, "pgaudit.Options") }

// LogValue redacts pgaudit.Options in slog output.
func (Options) LogValue() slog.Value { return redact.Log("pgaudit.Options") }

// MarshalJSON redacts pgaudit.Options in JSON.
func (Options) MarshalJSON() ([]byte, error) { return redact.JSON("pgaudit.Options") }

// Format prints pgaudit.PurgeOptions{[redacted]} under every verb.
func (PurgeOptions) Format(f fmt.State, _ rune) { redact.Format(f, "pgaudit.PurgeOptions") }

// LogValue redacts pgaudit.PurgeOptions in slog output.
func (PurgeOptions) LogValue() slog.Value { return redact.Log("pgaudit.PurgeOptions") }

// MarshalJSON redacts pgaudit.PurgeOptions in JSON.
func (PurgeOptions) MarshalJSON() ([]byte, error) { return redact.JSON("pgaudit.PurgeOptions") }

// Format prints pgaudit.Writer{[redacted]} under every verb.
func (*Writer) Format(f fmt.State, _ rune) { redact.Format(f, "pgaudit.Writer") }

// LogValue redacts pgaudit.Writer in slog output.
func (*Writer) LogValue() slog.Value { return redact.Log("pgaudit.Writer") }

// MarshalJSON redacts pgaudit.Writer in JSON.
func (*Writer) MarshalJSON() ([]byte, error) { return redact.JSON("pgaudit.Writer") }
