package retention

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints retention.SweeperConfig{[redacted]} under every verb.
func (SweeperConfig) Format(f fmt.State, _ rune) { redact.Format(f, "retention.SweeperConfig") }

// LogValue redacts retention.SweeperConfig in slog output.
func (SweeperConfig) LogValue() slog.Value { return redact.Log("retention.SweeperConfig") }

// MarshalJSON redacts retention.SweeperConfig in JSON.
func (SweeperConfig) MarshalJSON() ([]byte, error) { return redact.JSON("retention.SweeperConfig") }

// Format prints retention.Sweeper{[redacted]} under every verb.
func (Sweeper) Format(f fmt.State, _ rune) { redact.Format(f, "retention.Sweeper") }

// LogValue redacts retention.Sweeper in slog output.
func (Sweeper) LogValue() slog.Value { return redact.Log("retention.Sweeper") }

// MarshalJSON redacts retention.Sweeper in JSON.
func (Sweeper) MarshalJSON() ([]byte, error) { return redact.JSON("retention.Sweeper") }
