package disposal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// goldenEntryRecord is the ledger record of the golden certificate's
// statement, as the first record of a "disposal" stream.
func goldenEntryRecord(t testing.TB) audit.Record {
	t.Helper()
	st := goldenCertificate().Statement
	r := audit.Record{Stream: DefaultLedgerStream, Seq: 1, Event: entryEvent(st)}
	h, err := r.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	r.Hash = h
	return r
}

func TestLedgerEntryGolden(t *testing.T) {
	r := goldenEntryRecord(t)
	line, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "ledger_entry_v1.jsonl")
	if *update {
		if err := os.WriteFile(path, line, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(line, want) {
		t.Fatalf("ledger entry encoding changed:\n got %s\nwant %s", line, want)
	}
	parsed, err := audit.ParseRecord(bytes.TrimSuffix(want, []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEntry(parsed)
	if err != nil {
		t.Fatal(err)
	}
	gst := goldenCertificate().Statement
	if e.Statement.ID != gst.ID || e.Statement.Subject != gst.Subject || !e.Statement.Time.Equal(gst.Time) || e.Statement.Reason != gst.Reason ||
		len(e.Statement.KeyIDs) != 2 || e.Position.Seq != 1 || e.Statement.Hash() != gst.Hash() {
		t.Fatalf("golden entry decoded as %+v", e)
	}
}

func TestParseEntryRejects(t *testing.T) {
	base := goldenEntryRecord(t)
	mut := func(f func(e *audit.Event)) audit.Record {
		r := base
		r.Event.Attrs = make(map[string]string)
		for k, v := range base.Event.Attrs {
			r.Event.Attrs[k] = v
		}
		f(&r.Event)
		return r
	}
	cases := map[string]struct {
		r    audit.Record
		want error
	}{
		"other action":    {mut(func(e *audit.Event) { e.Action = audit.ActionRead }), ErrCorruptLedger},
		"future version":  {mut(func(e *audit.Event) { e.Attrs["v"] = "2" }), ErrUnsupportedVersion},
		"no version":      {mut(func(e *audit.Event) { delete(e.Attrs, "v") }), ErrCorruptLedger},
		"altered subject": {mut(func(e *audit.Event) { e.Target.Subject = "patient-0000" }), ErrCorruptLedger},
		"altered key ids": {mut(func(e *audit.Event) { e.Attrs["key_ids"] = "17,1234568" }), ErrCorruptLedger},
		"key count":       {mut(func(e *audit.Event) { e.Attrs["key_count"] = "3" }), ErrCorruptLedger},
		"bad key id":      {mut(func(e *audit.Event) { e.Attrs["key_ids"] = "17,x" }), ErrCorruptLedger},
		"leading zero id": {mut(func(e *audit.Event) { e.Attrs["key_ids"] = "017,1234567" }), ErrCorruptLedger},
		"extra attribute": {mut(func(e *audit.Event) { e.Attrs["x"] = "1" }), ErrCorruptLedger},
		"huge key count":  {mut(func(e *audit.Event) { e.Attrs["key_count"] = "99999999" }), ErrCorruptLedger},
		"missing key ids": {mut(func(e *audit.Event) { delete(e.Attrs, "key_ids") }), ErrCorruptLedger},
		"bad method":      {mut(func(e *audit.Event) { e.Attrs["method"] = "overwrite" }), ErrCorruptLedger},
		"empty actor":     {mut(func(e *audit.Event) { e.Actor.UserID = "" }), ErrCorruptLedger},
		"bad certificate": {mut(func(e *audit.Event) { e.Attrs["certificate_id"] = "x" }), ErrCorruptLedger},
	}
	for name, tc := range cases {
		_, err := ParseEntry(tc.r)
		var le *LedgerError
		if !errors.Is(err, tc.want) || !errors.As(err, &le) || le.Seq != 1 {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// Many keys spill over several attributes and parse back.
	st := goldenCertificate().Statement
	st.KeyIDs = nil
	for i := uint32(0); i < 200; i++ {
		st.KeyIDs = append(st.KeyIDs, i*7919)
	}
	r := audit.Record{Stream: "disposal", Seq: 5, Event: entryEvent(st)}
	if _, ok := r.Event.Attrs["key_ids.3"]; !ok {
		t.Fatal("200 key IDs did not spill into key_ids.3")
	}
	if err := r.Event.Validate(); err != nil {
		t.Fatalf("spilled entry is not a valid audit event: %v", err)
	}
	e, err := ParseEntry(r)
	if err != nil || len(e.Statement.KeyIDs) != 200 || e.Statement.KeyIDs[199] != 199*7919 {
		t.Fatalf("spilled entry: %v", err)
	}
	// Errors never quote the entry.
	bad := mut(func(e *audit.Event) { e.Attrs["reason"] = "CANARY-91x" })
	if _, err := ParseEntry(bad); err == nil || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("error %v", err)
	}
}

// FuzzParseLedgerLine feeds arbitrary lines through the audit record parser
// and the ledger entry parser, as Replay does.
func FuzzParseLedgerLine(f *testing.F) {
	golden, _ := os.ReadFile(filepath.Join("testdata", "ledger_entry_v1.jsonl"))
	f.Add(bytes.TrimSuffix(golden, []byte("\n")))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := audit.ParseRecord(line)
		if err != nil {
			return // the audit package's parser has its own fuzz test
		}
		e, err := ParseEntry(r)
		if err != nil {
			var le *LedgerError
			if !errors.As(err, &le) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever parses re-encodes to the same event attributes and hash.
		if got := entryEvent(e.Statement); len(got.Attrs) != len(r.Event.Attrs) || e.Statement.validate() != nil {
			t.Fatal("accepted entry does not round-trip")
		}
	})
}
