package breach_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/breach"
)

// FuzzParseEntry: any input parses to a valid entry that re-encodes to the
// same bytes, or fails with ErrMalformed or ErrVersion; never a panic.
func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(`{"v":1,"incident":"INC-X1","seq":1,"at":"2026-03-02T14:00:00Z","by":{"user_id":"u-1"},"op":"open","changes":[{"field":"status","prior":"","new":"open"}]}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"incident":"INC-X1","seq":18446744073709551615,"at":"9999-12-31T23:59:59.999999999Z","by":{"user_id":"u","role":"r"},"op":"assess","changes":[]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := breach.ParseEntry(line)
		if err != nil {
			if !errors.Is(err, breach.ErrMalformed) && !errors.Is(err, breach.ErrVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		b, err := e.Marshal()
		if err != nil || !bytes.Equal(b, line) {
			t.Fatalf("parsed entry re-encodes differently (%v)", err)
		}
	})
}

// FuzzCheckText: CheckText never panics and its errors are typed and never
// quote the input.
func FuzzCheckText(f *testing.F) {
	f.Add(description)
	f.Add("call 555-123-4567 now please")
	f.Add("born 02/03/1980 in the city")
	f.Fuzz(func(t *testing.T, s string) {
		err := breach.CheckText("description", s)
		if err == nil {
			return
		}
		if !errors.Is(err, breach.ErrInvalid) && !errors.Is(err, breach.ErrPHIText) {
			t.Fatalf("untyped error %v", err)
		}
		if len(s) > 12 && bytes.Contains([]byte(err.Error()), []byte(s)) {
			t.Fatal("error quotes the text")
		}
	})
}
