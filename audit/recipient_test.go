package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRecipientEncoding: a recipient is an optional member between reason
// and target, its members sorted; an event without one keeps its v1 bytes
// (TestGoldenV1), and an empty recipient object is not canonical.
func TestRecipientEncoding(t *testing.T) {
	e := Event{Time: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Action: ActionDisclose, Outcome: OutcomeSuccess,
		Reason: "r", Purpose: "public_health", Target: Target{Subject: "p-1"},
		Recipient: Recipient{ID: "org-1", Kind: RecipientOrganization, Name: "County Health Dept", Address: "1 Main St"}}
	c, _ := NewChain(ChainConfig{Stream: "s"})
	r, err := c.Next(e)
	if err != nil {
		t.Fatal(err)
	}
	line, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `"reason":"r","recipient":{"address":"1 Main St","id":"org-1","kind":"organization","name":"County Health Dept"},"target":{"subject":"p-1"}`
	if !bytes.Contains(line, []byte(want)) {
		t.Fatalf("line %s\nwant it to contain %s", line, want)
	}
	back, err := ParseRecord(line)
	if err != nil || back.Event.Recipient != e.Recipient || back.Hash != r.Hash {
		t.Fatalf("%+v %v", back.Event.Recipient, err)
	}
	empty := bytes.Replace(line, []byte(want), []byte(`"reason":"r","recipient":{},"target":{"subject":"p-1"}`), 1)
	if _, err := ParseRecord(empty); !errors.Is(err, ErrNonCanonical) && !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty recipient: %v", err)
	}
	bad := e
	bad.Recipient.Kind = "robot"
	if _, err := c.Next(bad); !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), "recipient.kind") {
		t.Fatalf("kind: %v", err)
	}
	bad.Recipient = Recipient{Name: strings.Repeat("x", MaxStringLen+1)}
	if _, err := c.Next(bad); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("long name: %v", err)
	}
}
