package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
)

var update = flag.Bool("update", false, "rewrite golden files")

const goldenV1 = "testdata/golden/v1.jsonl"

// goldenEvents are the events of the v1 golden vectors: the edge cases of
// the canonical encoding.
func goldenEvents() []Event {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return []Event{
		{Time: t0, Action: ActionLogin, Outcome: OutcomeSuccess},
		{
			Time: t0.Add(time.Nanosecond), Action: ActionUpdate, Outcome: OutcomeSuccess, Reason: "ok", Purpose: "treatment",
			Actor:  Actor{UserID: "u-1", TenantID: "t-1", Role: "nurse", SessionID: "sess-1"},
			Origin: Origin{Channel: ChannelAPI, ClientIP: "2001:db8::1", UserAgent: "curl/8", RequestID: "r-1", Route: "PUT /patients/{id}/dob"},
			Target: Target{RecordType: "patient", RecordID: "p-1", Field: "dob", Subject: "s-1"},
			Change: &Change{New: []byte("sealed-new"), Prior: []byte{0, 1, 2, 0xfe, 0xff}},
			Attrs:  map[string]string{"z": "last", "a-1": "", "m.n_o": "mid"},
		},
		{
			Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), Action: "app.custom_action", Outcome: OutcomeFailure, Reason: "no_permission",
			Actor:  Actor{UserID: "u-\"quoted\"\\back", Emergency: true, EmergencyReason: "line1\nline2\r\n\t{\"forged\":true}"},
			Origin: Origin{UserAgent: "ctl\x00\x01\x08\x0c\x1f\x7f end", Route: "</script>&<>"},
			Target: Target{Subject: "ünïcødé \u2028 \u2029 😀"},
			Change: &Change{Prior: []byte("only-prior")},
		},
		{Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), Action: ActionEmergencyAccess, Outcome: OutcomeSuccess, Actor: Actor{Emergency: true}},
	}
}

func goldenLines(t *testing.T) [][]byte {
	key := testKey(t)
	anchor := Checkpoint{Stream: "golden", Time: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Reason: CheckpointAnchor}
	first, err := signedLine(&anchor, key)
	if err != nil {
		t.Fatal(err)
	}
	lines := [][]byte{first}
	c, _ := NewChain(ChainConfig{Stream: "golden", Clock: clock.NewFake(testTime)})
	for _, e := range goldenEvents() {
		line, _, err := c.AppendNext(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, append(line, '\n'))
	}
	seq, head := c.Head()
	cp := Checkpoint{Stream: "golden", Seq: seq, Head: head, Time: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC), Reason: CheckpointClose}
	last, err := signedLine(&cp, key)
	if err != nil {
		t.Fatal(err)
	}
	return append(lines, last)
}

// TestGoldenV1 opens the committed v1 vectors: each line re-encodes to the
// same bytes, the chain and signatures verify, and today's encoder still
// produces exactly these bytes from the same events.
func TestGoldenV1(t *testing.T) {
	want := bytes.Join(goldenLines(t), nil)
	if *update {
		if err := os.WriteFile(goldenV1, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(goldenV1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoder output differs from %s (run with -update only for a deliberate format change)", goldenV1)
	}
	v := NewVerifier(VerifyOptions{Keys: mustKeySet(t, testKey(t).Public().(ed25519.PublicKey)), RequireSealed: true, AllowUnanchoredStart: false})
	sc := bufio.NewScanner(bytes.NewReader(got))
	evs := goldenEvents()
	i := 0
	for sc.Scan() {
		line := sc.Bytes()
		e, err := ParseLine(line)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		var again []byte
		if e.Record != nil {
			again, err = e.Record.Marshal()
			if !eventsEqual(e.Record.Event, evs[e.Record.Seq-1]) {
				t.Fatalf("line %d: parsed event differs:\n%#v\n%#v", i+1, e.Record.Event, evs[e.Record.Seq-1])
			}
			// the canonical form is plain JSON that encoding/json reads too
			var plain struct{ Event Event }
			if jerr := json.Unmarshal(line, &plain); jerr != nil || !eventsEqual(plain.Event, e.Record.Event) {
				t.Fatalf("line %d: encoding/json reads a different event: %v", i+1, jerr)
			}
		} else {
			again, err = e.Checkpoint.Marshal()
		}
		if err != nil || !bytes.Equal(again, line) {
			t.Fatalf("line %d does not round-trip: %v", i+1, err)
		}
		if err := v.Line(line); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		i++
	}
	if _, err := v.Finish(); err != nil {
		t.Fatal(err)
	}
}

func eventsEqual(a, b Event) bool {
	norm := func(e Event) Event {
		e.Time = e.Time.UTC()
		if len(e.Attrs) == 0 {
			e.Attrs = nil
		}
		if e.Change != nil && len(e.Change.New) == 0 {
			e.Change.New = nil
		}
		if e.Change != nil && len(e.Change.Prior) == 0 {
			e.Change.Prior = nil
		}
		return e
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestEncodingCannotForgeEntries(t *testing.T) {
	e := goldenEvents()[2]
	c, _ := NewChain(ChainConfig{Stream: "s"})
	line, _, err := c.AppendNext(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range line {
		if b < 0x20 {
			t.Fatalf("raw control byte %#x in the encoded line", b)
		}
	}
	if bytes.Contains(line, []byte(`{"forged":true}`)) || bytes.Count(line, []byte(`"emergency":`)) != 1 {
		t.Fatalf("injected JSON survived unescaped: %s", line)
	}
	for _, want := range []string{`\n`, `\r`, `\t`, `\b`, `\f`, `\u0000`, `\u001f`, `\"quoted\"`, `\\back`} {
		if !bytes.Contains(line, []byte(want)) {
			t.Fatalf("missing escape %s in %s", want, line)
		}
	}
}

func TestParseRejectsNonCanonical(t *testing.T) {
	lines, _ := buildChain(t, 1)
	line := lines[0]
	cases := map[string]struct {
		line []byte
		err  error
	}{
		"space":            {bytes.Replace(line, []byte(`:"read"`), []byte(`: "read"`), 1), ErrNonCanonical},
		"key order":        {bytes.Replace(line, []byte(`"role":"clinician","session_id":"s1"`), []byte(`"session_id":"s1","role":"clinician"`), 1), ErrNonCanonical},
		"unicode escape":   {bytes.Replace(line, []byte(`"dob"`), []byte(`"\u0064ob"`), 1), ErrNonCanonical},
		"upper hex":        {bytes.Replace(line, []byte(`\u0001`), []byte(`\u0001`), 1), nil},
		"long newline":     {bytes.Replace(line, []byte(`\n`), []byte(`\u000a`), 1), ErrNonCanonical},
		"empty string":     {bytes.Replace(line, []byte(`"purpose":"treatment"`), []byte(`"purpose":""`), 1), ErrNonCanonical},
		"unknown member":   {bytes.Replace(line, []byte(`"v":1}`), []byte(`"v":1,"x":1}`), 1), ErrNonCanonical},
		"leading zero":     {bytes.Replace(line, []byte(`"seq":1`), []byte(`"seq":01`), 1), ErrMalformed},
		"version 2":        {bytes.Replace(line, []byte(`"v":1}`), []byte(`"v":2}`), 1), ErrVersion},
		"not json":         {line[:len(line)-1], ErrMalformed},
		"bad utf8":         {bytes.Replace(line, []byte(`"dob"`), []byte("\"d\xffb\""), 1), ErrNonCanonical},
		"raw control":      {bytes.Replace(line, []byte(`"dob"`), []byte("\"d\x01b\""), 1), ErrMalformed},
		"bad time":         {bytes.Replace(line, []byte(`2026-11-22`), []byte(`2026-02-30`), 1), ErrNonCanonical},
		"uppercase hash":   {bytes.Replace(line, []byte(`"prev":"0000`), []byte(`"prev":"000A`), 1), ErrNonCanonical},
		"base64 unpadded":  {bytes.Replace(line, []byte(`"prior":"BA=="`), []byte(`"prior":"BA"`), 1), ErrNonCanonical},
		"duplicate member": {bytes.Replace(line, []byte(`"purpose":"treatment"`), []byte(`"purpose":"treatment","purpose":"treatment"`), 1), ErrNonCanonical},
		"oversized":        {bytes.Repeat([]byte("a"), MaxLineSize), ErrOversized},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(tc.line, line) {
				if tc.err != nil {
					t.Fatal("mutation did not apply")
				}
				return
			}
			_, err := ParseRecord(tc.line)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
}

func TestValidateLimits(t *testing.T) {
	base := sampleEvent(0)
	cases := map[string]func(e *Event){
		"action upper": func(e *Event) { e.Action = "Read" },
		"action empty": func(e *Event) { e.Action = "" },
		"outcome":      func(e *Event) { e.Outcome = "" },
		"long string":  func(e *Event) { e.Origin.UserAgent = strings.Repeat("a", MaxStringLen+1) },
		"bad utf8":     func(e *Event) { e.Target.RecordID = "\xff" },
		"attr key":     func(e *Event) { e.Attrs = map[string]string{"Bad Key": "v"} },
		"too many attrs": func(e *Event) {
			e.Attrs = map[string]string{}
			for i := 0; i <= MaxAttrs; i++ {
				e.Attrs[string(rune('a'+i%26))+strings.Repeat("x", i)] = ""
			}
		},
		"sealed too big": func(e *Event) { e.Change = &Change{New: make([]byte, MaxSealedLen+1)} },
		"year 10000":     func(e *Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, mut := range cases {
		e := base
		mut(&e)
		var fe *FieldError
		if err := e.Validate(); !errors.As(err, &fe) || !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	// the largest valid event still fits a line
	big := base
	big.Change = &Change{New: make([]byte, MaxSealedLen), Prior: make([]byte, MaxSealedLen)}
	big.Origin.UserAgent = strings.Repeat("\x01", MaxStringLen)
	big.Attrs = map[string]string{}
	for i := 0; i < MaxAttrs; i++ {
		big.Attrs[filepath.Base(strings.Repeat("k", i+1))] = strings.Repeat("\x02", MaxStringLen)
	}
	c, _ := NewChain(ChainConfig{Stream: "s"})
	line, _, err := c.AppendNext(nil, big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRecord(line); err != nil {
		t.Fatal(err)
	}
}
