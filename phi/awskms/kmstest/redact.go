package kmstest

import (
	"fmt"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// The types below hold key material, credentials or a client holding them.
// Each formats as a fixed redaction under every fmt verb, slog and JSON, so no
// debug print, log line or error wrapping one of them can reveal a secret.

// Format prints kmstest.Server{[redacted]} under every verb.
func (*Server) Format(f fmt.State, _ rune) { redact.Format(f, "kmstest.Server") }

// LogValue redacts kmstest.Server in slog output.
func (*Server) LogValue() slog.Value { return redact.Log("kmstest.Server") }

// MarshalJSON redacts kmstest.Server in JSON.
func (*Server) MarshalJSON() ([]byte, error) { return redact.JSON("kmstest.Server") }
