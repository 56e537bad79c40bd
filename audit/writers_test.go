package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

const canary = "999-00-1234-CANARY"

type memWriter struct {
	mu  sync.Mutex
	evs []Event
	err error
}

func (m *memWriter) Write(_ context.Context, e Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.evs = append(m.evs, e)
	return nil
}

func TestMultiAllMustSucceed(t *testing.T) {
	a, b := &memWriter{}, &memWriter{}
	w := Multi(a, b)
	if err := w.Write(context.Background(), sampleEvent(0)); err != nil {
		t.Fatal(err)
	}
	if len(a.evs) != 1 || len(b.evs) != 1 {
		t.Fatal("event not written to all")
	}
	b.err = ErrUnavailable
	err := w.Write(context.Background(), sampleEvent(1))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("multi with a failing writer: %v", err)
	}
}

// A Multi of no writers stores nothing, so it must not acknowledge.
func TestMultiNoWritersRefuses(t *testing.T) {
	err := Multi().Write(context.Background(), sampleEvent(0))
	if !errors.Is(err, ErrNoWriters) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("multi with no writers: %v, want ErrNoWriters matching ErrUnavailable", err)
	}
	if err := Multi([]Writer{}...).Write(context.Background(), sampleEvent(0)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("multi of an empty slice: %v", err)
	}
}

func TestSlogWriterEscapesAndNeverLogsSealedBytes(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewSlogWriter(SlogConfig{Handler: slog.NewJSONHandler(&buf, nil), Level: slog.LevelInfo})
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEvent(0)
	e.Change = &Change{New: []byte(canary), Prior: []byte(canary)}
	e.Origin.UserAgent = "x\n{\"action\":\"forged\"}"
	if err := w.Write(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("slog output split into several lines: %q", out)
	}
	if strings.Contains(out, canary) {
		t.Fatal("sealed bytes leaked into slog output")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m["action"] != "read" || m["origin"].(map[string]any)["user_agent"] != e.Origin.UserAgent {
		t.Fatalf("slog record: %v", m)
	}
	bad := e
	bad.Outcome = "maybe"
	if err := w.Write(context.Background(), bad); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("invalid event through slog: %v", err)
	}
}

func TestErrorsNeverEchoInput(t *testing.T) {
	e := sampleEvent(0)
	e.Actor.UserID = strings.Repeat(canary, 100)
	err := e.Validate()
	if err == nil || strings.Contains(err.Error(), canary) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), canary) {
		t.Fatalf("validate error leaks or is missing: %v", err)
	}
	lines, _ := buildChain(t, 1)
	for _, mut := range [][]byte{
		bytes.Replace(lines[0], []byte(`"subject":"subj-1"`), []byte(`"subject":"`+canary+`\x"`), 1),
		bytes.Replace(lines[0], []byte(`"v":1}`), []byte(`"v":7,"x":"`+canary+`"}`), 1),
		append([]byte(`{"event":"`+canary), 0xff),
	} {
		_, err := ParseRecord(mut)
		if err == nil {
			t.Fatal("mutated line parsed")
		}
		if strings.Contains(err.Error(), canary) {
			t.Fatalf("parse error leaks input: %v", err)
		}
	}
	// a line error from a file names the position, not the content
	dir, l, path := writeLog(t, 2, nil)
	l[1] = []byte(`{"event":{"action":"` + canary + "\"\n")
	rewrite(t, path, l)
	_, err = VerifyDir(context.Background(), dir, testKeys(t))
	if err == nil || strings.Contains(err.Error(), canary) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("verify error: %v", err)
	}
}
