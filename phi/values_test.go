package phi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
)

const canary = "999-00-1234-CANARY"

// record nests the value types in every position fmt, json and slog walk.
type record struct {
	Name    phi.Text
	DOB     phi.Date
	Doc     phi.Bytes
	PName   *phi.Text
	List    []phi.Text
	Map     map[string]phi.Bytes
	Any     any
	private phi.Text
	privB   phi.Bytes
	privD   phi.Date
}

func canaryRecord() record {
	n := phi.NewText(canary)
	return record{
		Name:    n,
		DOB:     phi.NewDate(1999, time.December, 31),
		Doc:     phi.NewBytes([]byte(canary)),
		PName:   &n,
		List:    []phi.Text{n, n},
		Map:     map[string]phi.Bytes{"k": phi.NewBytes([]byte(canary))},
		Any:     n,
		private: n,
		privB:   phi.NewBytes([]byte(canary)),
		privD:   phi.NewDate(1999, time.December, 31),
	}
}

// leaks reports whether out holds the canary or the date in any common form.
func leaks(out string) bool {
	for _, s := range []string{canary, "1999", "CANARY", fmt.Sprintf("%x", canary), fmt.Sprintf("% x", canary)[:20],
		strings.Trim(fmt.Sprintf("%v", []byte(canary)), "[]")[:20]} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

func TestValueTypesRedactUnderFmt(t *testing.T) {
	r := canaryRecord()
	values := []any{r, &r, r.Name, &r.Name, r.DOB, &r.DOB, r.Doc, &r.Doc, r.List, r.Map, []any{r.Name, r.Doc, r.DOB}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%10.3v", "%T%v"} {
		for i, v := range values {
			out := fmt.Sprintf(verb, v)
			if leaks(out) {
				t.Errorf("%s of value %d leaked: %s", verb, i, out)
			}
		}
	}
	if got := fmt.Sprint(r.Name); got != phi.Redacted {
		t.Errorf("Sprint = %q", got)
	}
	if got := fmt.Sprintf("%#v", r.DOB); got != "phi.Date([redacted])" {
		t.Errorf("%%#v = %q", got)
	}
	if got := fmt.Sprintf("%q", r.Doc); got != `"[redacted]"` {
		t.Errorf("%%q = %q", got)
	}
}

func TestValueTypesRedactInJSONSlogText(t *testing.T) {
	r := canaryRecord()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if leaks(string(js)) || !strings.Contains(string(js), `"Name":"[redacted]"`) {
		t.Errorf("JSON: %s", js)
	}
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("m", "name", r.Name, "dob", r.DOB, "doc", r.Doc, "rec", r, "ptr", &r)
		l.Info("m", slog.Any("list", r.List), slog.Group("g", "n", r.Name))
	}
	if leaks(logs.String()) {
		t.Errorf("slog leaked: %s", logs.String())
	}
	for _, m := range []interface{ MarshalText() ([]byte, error) }{r.Name, r.DOB, r.Doc} {
		if b, _ := m.MarshalText(); string(b) != phi.Redacted {
			t.Errorf("MarshalText = %q", b)
		}
	}
}

func TestValueTypesRedactInErrorsAndPanics(t *testing.T) {
	r := canaryRecord()
	err := fmt.Errorf("saving %v for %s: %w", r.Name, r.Doc, errors.New("x"))
	if leaks(err.Error()) {
		t.Errorf("error leaked: %v", err)
	}
	msg := func() (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		panic(r.Name)
	}()
	if leaks(msg) {
		t.Errorf("panic leaked: %s", msg)
	}
	msg = func() (msg string) {
		defer func() { msg = fmt.Sprintf("%+v", recover()) }()
		panic(r)
	}()
	if leaks(msg) {
		t.Errorf("panic of struct leaked: %s", msg)
	}
}

func TestValueTypesReveal(t *testing.T) {
	n := phi.NewText(canary)
	if n.Reveal() != canary || n.IsZero() || !(phi.Text{}).IsZero() {
		t.Fatal("Text.Reveal")
	}
	if string(n.Bytes().Reveal()) != canary {
		t.Fatal("Text.Bytes")
	}
	src := []byte(canary)
	b := phi.NewBytes(src)
	src[0] = 'X'
	got := b.Reveal()
	if string(got) != canary || b.Len() != len(canary) {
		t.Fatal("NewBytes did not copy")
	}
	got[0] = 'Y'
	if string(b.Reveal()) != canary {
		t.Fatal("Reveal did not return a copy")
	}
	if b.Text().Reveal() != canary {
		t.Fatal("Bytes.Text")
	}
	b.Wipe()
	if !bytes.Equal(b.Reveal(), make([]byte, len(canary))) {
		t.Fatal("Wipe left plaintext")
	}
	var zero phi.Bytes
	if zero.Reveal() != nil || zero.Len() != 0 || zero.Text().Reveal() != "" {
		t.Fatal("zero Bytes")
	}
	zero.Wipe()
	d := phi.NewDate(2024, time.February, 30) // normalised to March 1
	if !d.Reveal().Equal(time.Date(2024, time.March, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("NewDate normalisation: %v", d.Reveal())
	}
	p, err := phi.ParseDate("1999-12-31")
	if err != nil || p.Reveal().Year() != 1999 || p.IsZero() || !(phi.Date{}).IsZero() {
		t.Fatal("ParseDate")
	}
	if _, err := phi.ParseDate(canary); err == nil || leaks(err.Error()) {
		t.Fatalf("ParseDate error: %v", err)
	}
	loc := time.FixedZone("x", 14*3600)
	if phi.DateOf(time.Date(2020, 1, 1, 23, 0, 0, 0, loc)).Reveal().Day() != 1 {
		t.Fatal("DateOf used UTC instead of t's location")
	}
}
