package breach_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/breach"
)

// TestGoldenV1 keeps every line of testdata/golden/v1.jsonl parsing and
// re-encoding to the same bytes, and folding into the incident it was.
func TestGoldenV1(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []breach.Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		e, err := breach.ParseEntry(sc.Bytes())
		if err != nil {
			t.Fatalf("golden line %d: %v", len(entries)+1, err)
		}
		b, err := e.Marshal()
		if err != nil || !bytes.Equal(b, sc.Bytes()) {
			t.Fatalf("golden line %d re-encodes as %s (%v)", len(entries)+1, b, err)
		}
		entries = append(entries, e)
	}
	if len(entries) != 4 {
		t.Fatalf("%d golden entries, want 4", len(entries))
	}
	inc, err := breach.Fold(entries)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status() != breach.StatusAssessed || inc.Conclusion() != breach.ConclusionBreach || inc.Affected() != 40 ||
		inc.Get(breach.FieldTimeZone) != "America/New_York" || inc.Version != 4 {
		t.Fatalf("golden incident folds to %+v", inc.Fields)
	}
	// the file store opens a directory holding the golden file
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, breach.FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openFile(t, dir)
	if es, err := s.Entries(t.Context(), inc.ID); err != nil || len(es) != 4 {
		t.Fatalf("file store over the golden file: %d, %v", len(es), err)
	}
}

func TestParseEntryRefuses(t *testing.T) {
	good := `{"v":1,"incident":"INC-X1","seq":1,"at":"2026-03-02T14:00:00Z","by":{"user_id":"u-1"},"op":"open","changes":[{"field":"status","prior":"","new":"open"}]}`
	if _, err := breach.ParseEntry([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		line string
		want error
	}{
		"version 2":      {`{"v":2}`, breach.ErrVersion},
		"no version":     {`{"incident":"INC-X1"}`, breach.ErrMalformed},
		"not json":       {`{"v":1,`, breach.ErrMalformed},
		"unknown member": {good[:len(good)-1] + `,"x":1}`, breach.ErrMalformed},
		"whitespace":     {good + " ", breach.ErrMalformed},
		"local time":     {bytes.NewBuffer(nil).String() + `{"v":1,"incident":"INC-X1","seq":1,"at":"2026-03-02T14:00:00+01:00","by":{"user_id":"u-1"},"op":"open","changes":[{"field":"status","prior":"","new":"open"}]}`, breach.ErrMalformed},
		"unknown field":  {`{"v":1,"incident":"INC-X1","seq":1,"at":"2026-03-02T14:00:00Z","by":{"user_id":"u-1"},"op":"open","changes":[{"field":"ssn","prior":"","new":"x"}]}`, breach.ErrMalformed},
		"bad status":     {`{"v":1,"incident":"INC-X1","seq":1,"at":"2026-03-02T14:00:00Z","by":{"user_id":"u-1"},"op":"open","changes":[{"field":"status","prior":"","new":"gone"}]}`, breach.ErrMalformed},
		"phi in text":    {`{"v":1,"incident":"INC-X1","seq":1,"at":"2026-03-02T14:00:00Z","by":{"user_id":"u-1"},"op":"open","changes":[{"field":"description","prior":"","new":"mail to a@b.example"}]}`, breach.ErrMalformed},
		"escaped html":   {`{"v":1,"incident":"INC-X1","seq":1,"at":"2026-03-02T14:00:00Z","by":{"user_id":"u-1"},"op":"open","changes":[{"field":"vector","prior":"","new":"\u003c"}]}`, breach.ErrMalformed},
	} {
		_, err := breach.ParseEntry([]byte(c.line))
		var ee *breach.EntryError
		if !errors.Is(err, c.want) || !errors.As(err, &ee) {
			t.Errorf("%s: %v, want %v as *EntryError", name, err, c.want)
		}
	}
}
