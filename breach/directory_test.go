package breach_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/breach"
)

const dirCanary = "CANARY-Main-St-4711"

func TestParseDirectory(t *testing.T) {
	ctx := context.Background()
	in := `{"v":1,"subject":"p-1","state":"ny","name":"Ann ` + dirCanary + `","address":"1 ` + dirCanary + `"}

{"subject":"p-2","state":"","email":"p2@example.org"}
{"subject":"p-3","state":"CA","name":"No Address"}
{"subject":"p-4","state":"TX","address":"4 Road","contact_sufficient":false}
`
	d, err := breach.ParseDirectory(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 4 {
		t.Fatalf("%d subjects", d.Len())
	}
	for subject, want := range map[string]breach.Residence{
		"p-1": {State: "NY", ContactSufficient: true}, "p-2": {ContactSufficient: true}, "p-3": {State: "CA"},
		"p-4": {State: "TX"}, "p-unlisted": {},
	} {
		if got, err := d.Locate(ctx, subject); err != nil || got != want {
			t.Errorf("Locate(%s) = %+v, %v; want %+v", subject, got, err, want)
		}
	}
	c, err := d.Contact(ctx, "p-1")
	if err != nil || c.Name.Reveal() != "Ann "+dirCanary || c.Address.Reveal() != "1 "+dirCanary || !c.Email.IsZero() {
		t.Fatalf("Contact(p-1): %v", err)
	}
	if c, err := d.Contact(ctx, "p-unlisted"); err != nil || !c.Name.IsZero() || !c.Address.IsZero() {
		t.Fatalf("Contact(unlisted): %v", err)
	}
	// The Directory and its contacts redact themselves.
	var buf bytes.Buffer
	for _, v := range []any{d, c, *d} {
		buf.WriteString(strings.Join([]string{sprint("%v", v), sprint("%+v", v), sprint("%#v", v)}, " "))
	}
	if strings.Contains(buf.String(), dirCanary) {
		t.Fatal("a contact detail printed")
	}
}

func TestParseDirectoryRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"syntax":    `{"subject":"p-1","name":"` + dirCanary,
		"unknown":   `{"subject":"p-1","ssn":"` + dirCanary + `"}`,
		"two":       `{"subject":"p-1"} {"subject":"p-2"}`,
		"version":   `{"v":2,"subject":"p-1"}`,
		"subject":   `{"subject":"` + dirCanary + ` x"}`,
		"reserved":  `{"subject":"_p-1"}`,
		"duplicate": `{"subject":"p-0","name":"` + dirCanary + `"}`,
		"state":     `{"subject":"p-1","state":"New York","name":"` + dirCanary + `"}`,
		"control":   `{"subject":"p-1","address":"1 ` + dirCanary + `\nSecond line"}`,
		"long":      `{"subject":"p-1","name":"` + strings.Repeat(dirCanary, 100) + `"}`,
		"line":      `{"subject":"p-1","name":"` + strings.Repeat("x", breach.MaxDirectoryLine) + `"}`,
		"array":     `["p-1"]`,
	} {
		_, err := breach.ParseDirectory(strings.NewReader("{\"subject\":\"p-0\"}\n" + in + "\n"))
		var fe *breach.FieldError
		if !errors.Is(err, breach.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "directory line 2" {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(err.Error(), dirCanary) || strings.Contains(err.Error(), "CANARY") {
			t.Errorf("%s: the error quotes the line: %v", name, err)
		}
	}
}

func sprint(format string, v any) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, format, v)
	return b.String()
}

// directoryErr is the only shape of a directory error: the line number and
// a fixed reason, never the line's content.
var directoryErr = regexp.MustCompile(`^breach: invalid directory line [0-9]+: [a-zA-Z0-9_ ,;()'./-]+$|^breach: read the directory file: breach: invalid input$`)

// FuzzParseDirectory: any input parses, or fails with ErrInvalid in one of
// the fixed shapes (never quoting the input); parsed States are two
// upper-case letters or empty; never a panic.
func FuzzParseDirectory(f *testing.F) {
	f.Add([]byte(`{"v":1,"subject":"p-1","state":"ny","name":"Ann","address":"1 Elm St","email":"a@example.org","contact_sufficient":true}` + "\n\n" + `{"subject":"p-2"}`))
	f.Add([]byte(`{"subject":"p-1"}` + "\n" + `{"subject":"p-1"}`))
	f.Add([]byte(`{"subject":"p-1","state":"N\u00dc"}`))
	f.Add([]byte(`{"subject":"p-1","name":"\u0085"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := breach.ParseDirectory(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, breach.ErrInvalid) || !directoryErr.MatchString(err.Error()) {
				t.Fatalf("error of an unexpected shape: %q", err)
			}
			return
		}
		if d.Len() > bytes.Count(in, []byte("\n"))+1 {
			t.Fatalf("%d subjects from %d lines", d.Len(), bytes.Count(in, []byte("\n"))+1)
		}
	})
}

// FuzzReadScopeJSON: any input reads as a scope whose JSON encoding reads
// back to the same digest, or fails with ErrInvalid; never a panic.
func FuzzReadScopeJSON(f *testing.F) {
	f.Add([]byte(`{"indicators":{"since":"2026-03-02T00:00:00Z","until":"2026-03-03T00:00:00Z","actors":["u-1"],"networks":["10.0.0.0/8"]},"records_read":3,"affected":[{"subject":"p-1","elements":["patient.dob"],"exposure":"plaintext","evidence":[{"stream":"s","seq":1,"time":"2026-03-02T01:00:00Z","action":"read","actor":"u-1","exposure":"plaintext"}]}],"excluded":[]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		sc, err := breach.ReadScopeJSON(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, breach.ErrInvalid) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := breach.WriteScopeJSON(&buf, sc); err != nil {
			t.Fatal(err)
		}
		again, err := breach.ReadScopeJSON(&buf)
		if err != nil || again.Digest() != sc.Digest() {
			t.Fatalf("a scope read back differently: %v", err)
		}
	})
}
