// Package redact formats values that hold key material, credentials or
// clients as a fixed redaction, so that no fmt verb, slog handler or JSON
// encoder can reach the secrets inside them.
//
// A type that holds a secret embeds nothing and exports nothing new: it
// gives itself three one-line methods that call Format, Log and JSON with
// its own name, on a value receiver where the type can be copied (so that
// both T and *T redact) and on a pointer receiver where it holds a lock.
package redact

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Text is what a redacted value of the named type prints as, under every
// verb: "<name>{[redacted]}".
func Text(name string) string { return name + "{[redacted]}" }

// Format writes Text(name) to f, whatever the verb and flags. It serves a
// type's fmt.Formatter, which fmt consults before String, GoString, Error
// and reflection, so %v %+v %#v %s %q %x %X %d %e %t %c %U all redact.
func Format(f fmt.State, name string) { _, _ = f.Write([]byte(Text(name))) }

// Log returns the slog value of a redacted value of the named type.
func Log(name string) slog.Value { return slog.StringValue(Text(name)) }

// JSON returns the JSON encoding of a redacted value of the named type.
func JSON(name string) ([]byte, error) { return []byte(strconv.Quote(Text(name))), nil }
