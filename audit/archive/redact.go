package archive

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// Config and Archive hold the log's signing key. Each formats as a fixed
// redaction under every fmt verb, slog and JSON.

// Format prints archive.Config{[redacted]} under every verb.
func (Config) Format(f fmt.State, _ rune) { redact.Format(f, "archive.Config") }

// LogValue redacts archive.Config in slog output.
func (Config) LogValue() slog.Value { return redact.Log("archive.Config") }

// MarshalJSON redacts archive.Config in JSON.
func (Config) MarshalJSON() ([]byte, error) { return redact.JSON("archive.Config") }

// Format prints archive.Archive{[redacted]} under every verb.
func (*Archive) Format(f fmt.State, _ rune) { redact.Format(f, "archive.Archive") }

// LogValue redacts archive.Archive in slog output.
func (*Archive) LogValue() slog.Value { return redact.Log("archive.Archive") }

// MarshalJSON redacts archive.Archive in JSON.
func (*Archive) MarshalJSON() ([]byte, error) { return redact.JSON("archive.Archive") }
