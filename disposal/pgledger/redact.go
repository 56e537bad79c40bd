package pgledger

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints pgledger.Options{[redacted]} under every verb.
func (Options) Format(f fmt.State, _ rune) { redact.Format(f, "pgledger.Options") }

// LogValue redacts pgledger.Options in slog output.
func (Options) LogValue() slog.Value { return redact.Log("pgledger.Options") }

// MarshalJSON redacts pgledger.Options in JSON.
func (Options) MarshalJSON() ([]byte, error) { return redact.JSON("pgledger.Options") }

// Format prints pgledger.Store{[redacted]} under every verb.
func (Store) Format(f fmt.State, _ rune) { redact.Format(f, "pgledger.Store") }

// LogValue redacts pgledger.Store in slog output.
func (Store) LogValue() slog.Value { return redact.Log("pgledger.Store") }

// MarshalJSON redacts pgledger.Store in JSON.
func (Store) MarshalJSON() ([]byte, error) { return redact.JSON("pgledger.Store") }
