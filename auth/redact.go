package auth

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints auth.KeySealer{[redacted]} under every verb.
func (keySealer) Format(f fmt.State, _ rune) { redact.Format(f, "auth.KeySealer") }

// LogValue redacts auth.KeySealer in slog output.
func (keySealer) LogValue() slog.Value { return redact.Log("auth.KeySealer") }

// MarshalJSON redacts auth.KeySealer in JSON.
func (keySealer) MarshalJSON() ([]byte, error) { return redact.JSON("auth.KeySealer") }

// Format prints auth.Config{[redacted]} under every verb.
func (Config) Format(f fmt.State, _ rune) { redact.Format(f, "auth.Config") }

// LogValue redacts auth.Config in slog output.
func (Config) LogValue() slog.Value { return redact.Log("auth.Config") }

// MarshalJSON redacts auth.Config in JSON.
func (Config) MarshalJSON() ([]byte, error) { return redact.JSON("auth.Config") }

// Format prints auth.Service{[redacted]} under every verb.
func (*Service) Format(f fmt.State, _ rune) { redact.Format(f, "auth.Service") }

// LogValue redacts auth.Service in slog output.
func (*Service) LogValue() slog.Value { return redact.Log("auth.Service") }

// MarshalJSON redacts auth.Service in JSON.
func (*Service) MarshalJSON() ([]byte, error) { return redact.JSON("auth.Service") }

// Format prints auth.Authenticator{[redacted]} under every verb.
func (*authenticator) Format(f fmt.State, _ rune) { redact.Format(f, "auth.Authenticator") }

// LogValue redacts auth.Authenticator in slog output.
func (*authenticator) LogValue() slog.Value { return redact.Log("auth.Authenticator") }

// MarshalJSON redacts auth.Authenticator in JSON.
func (*authenticator) MarshalJSON() ([]byte, error) { return redact.JSON("auth.Authenticator") }
