package disposal

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints disposal.Config{[redacted]} under every verb.
func (Config) Format(f fmt.State, _ rune) { redact.Format(f, "disposal.Config") }

// LogValue redacts disposal.Config in slog output.
func (Config) LogValue() slog.Value { return redact.Log("disposal.Config") }

// MarshalJSON redacts disposal.Config in JSON.
func (Config) MarshalJSON() ([]byte, error) { return redact.JSON("disposal.Config") }

// Format prints disposal.Shredder{[redacted]} under every verb.
func (Shredder) Format(f fmt.State, _ rune) { redact.Format(f, "disposal.Shredder") }

// LogValue redacts disposal.Shredder in slog output.
func (Shredder) LogValue() slog.Value { return redact.Log("disposal.Shredder") }

// MarshalJSON redacts disposal.Shredder in JSON.
func (Shredder) MarshalJSON() ([]byte, error) { return redact.JSON("disposal.Shredder") }

// Format prints disposal.Ledger{[redacted]} under every verb.
func (*Ledger) Format(f fmt.State, _ rune) { redact.Format(f, "disposal.Ledger") }

// LogValue redacts disposal.Ledger in slog output.
func (*Ledger) LogValue() slog.Value { return redact.Log("disposal.Ledger") }

// MarshalJSON redacts disposal.Ledger in JSON.
func (*Ledger) MarshalJSON() ([]byte, error) { return redact.JSON("disposal.Ledger") }

// Format prints disposal.FileLedgerOptions{[redacted]} under every verb.
func (FileLedgerOptions) Format(f fmt.State, _ rune) {
	redact.Format(f, "disposal.FileLedgerOptions")
}

// LogValue redacts disposal.FileLedgerOptions in slog output.
func (FileLedgerOptions) LogValue() slog.Value { return redact.Log("disposal.FileLedgerOptions") }

// MarshalJSON redacts disposal.FileLedgerOptions in JSON.
func (FileLedgerOptions) MarshalJSON() ([]byte, error) {
	return redact.JSON("disposal.FileLedgerOptions")
}

// Format prints disposal.FileLedgerStore{[redacted]} under every verb.
func (*FileLedgerStore) Format(f fmt.State, _ rune) { redact.Format(f, "disposal.FileLedgerStore") }

// LogValue redacts disposal.FileLedgerStore in slog output.
func (*FileLedgerStore) LogValue() slog.Value { return redact.Log("disposal.FileLedgerStore") }

// MarshalJSON redacts disposal.FileLedgerStore in JSON.
func (*FileLedgerStore) MarshalJSON() ([]byte, error) {
	return redact.JSON("disposal.FileLedgerStore")
}
