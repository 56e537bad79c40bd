package witness

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// Config and Witness hold the witness's signing key. Each formats as a fixed
// redaction under every fmt verb, slog and JSON.

// Format prints witness.Config{[redacted]} under every verb.
func (Config) Format(f fmt.State, _ rune) { redact.Format(f, "witness.Config") }

// LogValue redacts witness.Config in slog output.
func (Config) LogValue() slog.Value { return redact.Log("witness.Config") }

// MarshalJSON redacts witness.Config in JSON.
func (Config) MarshalJSON() ([]byte, error) { return redact.JSON("witness.Config") }

// Format prints witness.Witness{[redacted]} under every verb.
func (*Witness) Format(f fmt.State, _ rune) { redact.Format(f, "witness.Witness") }

// LogValue redacts witness.Witness in slog output.
func (*Witness) LogValue() slog.Value { return redact.Log("witness.Witness") }

// MarshalJSON redacts witness.Witness in JSON.
func (*Witness) MarshalJSON() ([]byte, error) { return redact.JSON("witness.Witness") }
