package pgsource

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/backup"
)

func FuzzParseSequence(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		last, called, err := parseSequence(strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, backup.ErrCorrupt) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again := strconv.FormatInt(last, 10) + " " + strconv.FormatBool(called) + "\n"
		l2, c2, err := parseSequence(strings.NewReader(again))
		if err != nil || l2 != last || c2 != called {
			t.Fatalf("round trip: %d %v -> %d %v, %v", last, called, l2, c2, err)
		}
	})
}
