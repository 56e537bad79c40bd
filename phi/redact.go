package phi

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints phi.Vault{[redacted]} under every verb.
func (*Vault) Format(f fmt.State, _ rune) { redact.Format(f, "phi.Vault") }

// LogValue redacts phi.Vault in slog output.
func (*Vault) LogValue() slog.Value { return redact.Log("phi.Vault") }

// MarshalJSON redacts phi.Vault in JSON.
func (*Vault) MarshalJSON() ([]byte, error) { return redact.JSON("phi.Vault") }

// Format prints phi.VaultConfig{[redacted]} under every verb: it holds the
// KEK.
func (VaultConfig) Format(f fmt.State, _ rune) { redact.Format(f, "phi.VaultConfig") }

// LogValue redacts phi.VaultConfig in slog output.
func (VaultConfig) LogValue() slog.Value { return redact.Log("phi.VaultConfig") }

// MarshalJSON redacts phi.VaultConfig in JSON.
func (VaultConfig) MarshalJSON() ([]byte, error) { return redact.JSON("phi.VaultConfig") }
