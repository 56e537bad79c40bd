package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

var qBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// qChain chains events into records of stream.
func qChain(t testing.TB, stream string, evs []audit.Event) []audit.Record {
	t.Helper()
	c, err := audit.NewChain(audit.ChainConfig{Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]audit.Record, len(evs))
	for i, e := range evs {
		if out[i], err = c.Next(e); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func qEvent(i int, subject, actor string, a audit.Action, o audit.Outcome) audit.Event {
	return audit.Event{
		Time: qBase.Add(time.Duration(i) * time.Minute), Action: a, Outcome: o,
		Actor:   audit.Actor{UserID: actor, Role: "nurse"},
		Target:  audit.Target{RecordType: "patient", RecordID: "r-" + subject, Subject: subject},
		Purpose: "treatment",
	}
}

// hostile values that must match only themselves.
var hostile = []string{"%", "_", "a%", "a_c", "' OR '1'='1", `"; DROP TABLE audit_events; --`, `\`, "abc", "ABC", "a\u00e9"}

func hostileRecords(t testing.TB) []audit.Record {
	var evs []audit.Event
	for i, h := range hostile {
		evs = append(evs, qEvent(i, h, "actor-"+h, audit.ActionRead, audit.OutcomeSuccess))
	}
	return qChain(t, "s1", evs)
}

// FilterLiteralMatches checks that every hostile value selects exactly its
// own record from s. It is shared with the PostgreSQL tests through the
// same shape of assertions.
func TestFilterHostileValuesMatchLiterally(t *testing.T) {
	s := audit.MemorySearcher(hostileRecords(t))
	for _, h := range hostile {
		for _, f := range []audit.Filter{{Subject: h}, {ActorID: "actor-" + h}, {RecordID: "r-" + h}} {
			p, err := audit.Query(context.Background(), s, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Records) != 1 || p.Records[0].Event.Target.Subject != h {
				t.Fatalf("filter %+v matched %d records", f, len(p.Records))
			}
		}
	}
}

func TestFilterValidate(t *testing.T) {
	const canary = "CANARY-123-45-6789"
	long := strings.Repeat("x", audit.MaxStringLen+1)
	bad := map[string]audit.Filter{
		"long subject":   {Subject: long},
		"invalid utf8":   {Subject: "\xff" + canary},
		"nul":            {ActorID: canary + "\x00"},
		"stream":         {Stream: "bad stream " + canary},
		"action":         {Actions: []audit.Action{audit.Action("READ" + canary)}},
		"outcome":        {Outcome: audit.Outcome(canary)},
		"range":          {Since: qBase, Until: qBase},
		"negative limit": {Limit: -1},
		"big limit":      {Limit: audit.MaxPageSize + 1},
		"year":           {Until: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"cursor":         {After: audit.Cursor{Stream: "s", Seq: 0, Time: qBase}},
	}
	for name, f := range bad {
		err := f.Validate()
		var fe *audit.FilterError
		if !errors.Is(err, audit.ErrInvalidFilter) || !errors.As(err, &fe) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("%s: error echoes input: %v", name, err)
		}
		if _, err := audit.Query(context.Background(), audit.MemorySearcher(nil), f); !errors.Is(err, audit.ErrInvalidFilter) {
			t.Errorf("%s: Query accepted it: %v", name, err)
		}
	}
	good := audit.Filter{Subject: "p", ActorID: "u", RecordType: "t", RecordID: "i", Stream: "api-1",
		Actions: []audit.Action{audit.ActionRead}, Outcome: audit.OutcomeFailure, Since: qBase, Until: qBase.Add(1), Limit: audit.MaxPageSize}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFilterMatch(t *testing.T) {
	recs := qChain(t, "s1", []audit.Event{
		qEvent(0, "p1", "u1", audit.ActionRead, audit.OutcomeSuccess),
		qEvent(1, "p1", "u2", audit.ActionUpdate, audit.OutcomeFailure),
		qEvent(2, "p2", "u1", audit.ActionExport, audit.OutcomeSuccess),
	})
	s := audit.MemorySearcher(recs)
	cases := []struct {
		f    audit.Filter
		want []uint64
	}{
		{audit.Filter{}, []uint64{1, 2, 3}},
		{audit.Filter{Subject: "p1"}, []uint64{1, 2}},
		{audit.Filter{ActorID: "u1"}, []uint64{1, 3}},
		{audit.Filter{Actions: []audit.Action{audit.ActionUpdate, audit.ActionExport}}, []uint64{2, 3}},
		{audit.Filter{Outcome: audit.OutcomeFailure}, []uint64{2}},
		{audit.Filter{Since: qBase.Add(time.Minute)}, []uint64{2, 3}},
		{audit.Filter{Until: qBase.Add(time.Minute)}, []uint64{1}},
		{audit.Filter{RecordType: "patient", RecordID: "r-p2"}, []uint64{3}},
		{audit.Filter{Stream: "other"}, nil},
		{audit.Filter{Subject: "P1"}, nil},
	}
	for _, c := range cases {
		p, err := audit.Query(context.Background(), s, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, r := range p.Records {
			got = append(got, r.Seq)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %v, want %v", c.f, got, c.want)
		}
	}
}

// qMixed returns n records of two streams with times that are not in
// stored order, and the same records sorted in listing order.
func qMixed(t testing.TB, n int, shuffle bool) (stored, sorted []audit.Record) {
	var a, b []audit.Event
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		e := qEvent(i/2, fmt.Sprintf("p%d", i%3), "u", audit.ActionRead, audit.OutcomeSuccess)
		if shuffle {
			e.Time = qBase.Add(time.Duration(rng.IntN(n/4+1)) * time.Second) // many equal times
		}
		if i%2 == 0 {
			a = append(a, e)
		} else {
			b = append(b, e)
		}
	}
	stored = append(qChain(t, "a", a), qChain(t, "b", b)...)
	sorted = slices.Clone(stored)
	slices.SortFunc(sorted, func(x, y audit.Record) int { return audit.CursorOf(&x).Compare(audit.CursorOf(&y)) })
	return stored, sorted
}

func sameRecords(t *testing.T, got, want []audit.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Stream != want[i].Stream || got[i].Seq != want[i].Seq {
			t.Fatalf("record %d is %s/%d, want %s/%d", i, got[i].Stream, got[i].Seq, want[i].Stream, want[i].Seq)
		}
	}
}

func TestQueryKeysetPagination(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		stored, sorted := qMixed(t, 95, shuffle)
		s := audit.MemorySearcher(stored)
		var all []audit.Record
		f := audit.Filter{Limit: 10}
		pages := 0
		for {
			p, err := audit.Query(context.Background(), s, f)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			all = append(all, p.Records...)
			if p.Next.IsZero() {
				break
			}
			tok := p.Next.String()
			if f.After, err = audit.ParseCursor(tok); err != nil {
				t.Fatal(err)
			}
		}
		if pages != 10 {
			t.Fatalf("%d pages", pages)
		}
		sameRecords(t, all, sorted)
	}
}

func TestExportStreamsPastOnePage(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		stored, sorted := qMixed(t, audit.MaxPageSize*2+7, shuffle)
		var buf bytes.Buffer
		n, err := audit.Export(context.Background(), &buf, audit.MemorySearcher(stored), audit.Filter{}, audit.ExportJSONL)
		if err != nil || n != int64(len(sorted)) {
			t.Fatalf("exported %d, %v", n, err)
		}
		var got []audit.Record
		for line := range bytes.Lines(buf.Bytes()) {
			r, err := audit.ParseRecord(line)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		sameRecords(t, got, sorted)
	}
}

// A JSON Lines export of whole streams is the canonical log: it verifies.
func TestExportJSONLVerifies(t *testing.T) {
	recs := hostileRecords(t)
	var buf bytes.Buffer
	if _, err := audit.Export(context.Background(), &buf, audit.MemorySearcher(recs), audit.Filter{}, audit.ExportJSONL); err != nil {
		t.Fatal(err)
	}
	v := audit.NewVerifier(audit.VerifyOptions{})
	for line := range bytes.Lines(buf.Bytes()) {
		if err := v.Line(line); err != nil {
			t.Fatal(err)
		}
	}
	res, err := v.Finish()
	if err != nil || len(res.Streams) != 1 || res.Streams[0].Records != int64(len(recs)) {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestExportCSVInjectionSafe(t *testing.T) {
	evs := []audit.Event{qEvent(0, "=HYPERLINK(\"http://x\")", "+1+1", audit.ActionRead, audit.OutcomeSuccess)}
	evs[0].Purpose = "-2+3"
	evs[0].Reason = "@SUM(A1)"
	evs[0].Origin.UserAgent = "\t=cmd"
	evs[0].Origin.RequestID = "line1\nline2,\"q\""
	evs[0].Change = &audit.Change{New: []byte{0xfb, 0xff}, Prior: []byte("x")}
	evs[0].Attrs = map[string]string{"b": "2", "a": "=1"}
	recs := qChain(t, "s1", evs)
	var buf bytes.Buffer
	if _, err := audit.Export(context.Background(), &buf, audit.MemorySearcher(recs), audit.Filter{}, audit.ExportCSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !slices.Equal(rows[0], audit.CSVColumns()) {
		t.Fatalf("rows %q", rows)
	}
	col := func(name string) string { return rows[1][slices.Index(audit.CSVColumns(), name)] }
	for name, want := range map[string]string{
		"subject": "'=HYPERLINK(\"http://x\")", "actor_user_id": "'+1+1", "purpose": "'-2+3",
		"reason": "'@SUM(A1)", "user_agent": `\t=cmd`, "request_id": `line1\nline2,"q"`,
		"change_new": "fbff", "change_prior": "78", "attrs": `{"a":"=1","b":"2"}`,
		"seq": "1", "stream": "s1", "time": "2026-01-01T00:00:00Z", "hash": recs[0].Hash.String(),
	} {
		if got := col(name); got != want {
			t.Errorf("%s = %q, want %q", name, col(name), want)
		}
	}
	for i, c := range rows[1] {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			t.Errorf("column %s starts with %q", audit.CSVColumns()[i], c[0])
		}
	}
	if _, err := audit.Export(context.Background(), &buf, audit.MemorySearcher(recs), audit.Filter{}, "xml"); !errors.Is(err, audit.ErrExportFormat) {
		t.Fatal(err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestExportErrors(t *testing.T) {
	recs := hostileRecords(t)
	if _, err := audit.Export(context.Background(), failWriter{}, audit.MemorySearcher(recs), audit.Filter{}, audit.ExportJSONL); err == nil {
		t.Fatal("write error swallowed")
	}
	boom := errors.New("disk read failed")
	src := audit.ScanSearcher(func(context.Context) iter.Seq2[audit.Record, error] {
		return func(yield func(audit.Record, error) bool) {
			if yield(recs[0], nil) {
				yield(audit.Record{}, boom)
			}
		}
	})
	if n, err := audit.Export(context.Background(), &bytes.Buffer{}, src, audit.Filter{}, audit.ExportCSV); !errors.Is(err, boom) || n != 0 {
		t.Fatalf("%d %v", n, err)
	}
	if _, err := audit.Query(context.Background(), src, audit.Filter{}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
}

func TestCursorToken(t *testing.T) {
	c := audit.Cursor{Time: time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC), Stream: "api-7.x_Y", Seq: 42}
	tok := c.String()
	if !strings.HasPrefix(tok, "c1_") {
		t.Fatal(tok)
	}
	got, err := audit.ParseCursor(tok)
	if err != nil || got != c {
		t.Fatalf("%+v %v", got, err)
	}
	if z, err := audit.ParseCursor(""); err != nil || !z.IsZero() || (audit.Cursor{}).String() != "" {
		t.Fatal("zero cursor")
	}
	for _, bad := range []string{"c1", "c2_" + tok[3:], tok + "=", tok[:len(tok)-1] + "!", "c1_AAAA", tok + strings.Repeat("A", 200),
		audit.Cursor{Time: c.Time, Stream: "s", Seq: 0}.String(), audit.Cursor{Time: c.Time, Stream: "bad stream", Seq: 1}.String()} {
		if _, err := audit.ParseCursor(bad); !errors.Is(err, audit.ErrInvalidCursor) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add(audit.Cursor{Time: qBase, Stream: "s1", Seq: 1}.String())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := audit.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, audit.ErrInvalidCursor) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if c.String() != s {
			t.Fatalf("non-canonical token %q re-encodes as %q", s, c.String())
		}
	})
}

func ExampleQuery() {
	c, _ := audit.NewChain(audit.ChainConfig{Stream: "api-1"})
	var recs []audit.Record
	for i, subject := range []string{"p-1", "p-2", "p-1", "p-1"} {
		r, _ := c.Next(audit.Event{Time: qBase.Add(time.Duration(i) * time.Hour), Action: audit.ActionRead,
			Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: "u-1"}, Target: audit.Target{Subject: subject}})
		recs = append(recs, r)
	}
	s := audit.MemorySearcher(recs) // or a pgaudit.Store, or a file log through ScanSearcher
	f := audit.Filter{Subject: "p-1", Limit: 2}
	for {
		page, err := audit.Query(context.Background(), s, f)
		if err != nil {
			panic(err)
		}
		for _, r := range page.Records {
			fmt.Println(r.Seq, r.Event.Time.Format(time.Kitchen))
		}
		if page.Next.IsZero() {
			break
		}
		f.After = page.Next
	}
	// Output:
	// 1 12:00AM
	// 3 2:00AM
	// 4 3:00AM
}

// TestCursorGoldenV1 pins the version 1 token format: tokens handed to
// clients must keep parsing.
func TestCursorGoldenV1(t *testing.T) {
	b, err := os.ReadFile("testdata/cursor-v1.golden")
	if err != nil {
		t.Fatal(err)
	}
	want := []audit.Cursor{
		{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Stream: "s1", Seq: 1},
		{Time: time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC), Stream: "api-7.x_Y", Seq: 42},
		{Time: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), Stream: "a", Seq: audit.MaxSeq},
		{Time: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), Stream: strings.Repeat("z", audit.MaxStreamLen), Seq: 7},
	}
	lines := strings.Fields(string(b))
	if len(lines) != len(want) {
		t.Fatalf("%d golden tokens", len(lines))
	}
	for i, tok := range lines {
		c, err := audit.ParseCursor(tok)
		if err != nil || c != want[i] {
			t.Errorf("token %d: %+v %v", i, c, err)
		}
		if want[i].String() != tok {
			t.Errorf("cursor %d encodes as %s, golden %s", i, want[i].String(), tok)
		}
	}
}

// Query and export over a real file log, through its reader.
func TestFileSearcher(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(crand.Reader)
	l, err := audit.OpenFileLog(context.Background(), t.TempDir(), audit.FileOptions{Signer: key, SegmentMaxBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 60 {
		if err := l.Write(context.Background(), qEvent(i, fmt.Sprintf("p%d", i%3), "u", audit.ActionRead, audit.OutcomeSuccess)); err != nil {
			t.Fatal(err)
		}
	}
	s := audit.FileSearcher(l.Reader())
	f := audit.Filter{Subject: "p1", Limit: 7}
	var seqs []uint64
	for {
		p, err := audit.Query(context.Background(), s, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			seqs = append(seqs, r.Seq)
		}
		if p.Next.IsZero() {
			break
		}
		f.After = p.Next
	}
	if len(seqs) != 20 || seqs[0] != 2 || seqs[19] != 59 {
		t.Fatalf("seqs %v", seqs)
	}
	var buf bytes.Buffer
	if n, err := audit.Export(context.Background(), &buf, s, audit.Filter{Subject: "p2"}, audit.ExportCSV); err != nil || n != 20 {
		t.Fatalf("%d %v", n, err)
	}
}

func ExampleExport() {
	c, _ := audit.NewChain(audit.ChainConfig{Stream: "api-1"})
	r, _ := c.Next(audit.Event{Time: qBase, Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
		Actor: audit.Actor{UserID: "=cmd|' /C calc'!A0"}, Target: audit.Target{Subject: "p-1"}})
	var buf bytes.Buffer
	n, err := audit.Export(context.Background(), &buf, audit.MemorySearcher([]audit.Record{r}), audit.Filter{Subject: "p-1"}, audit.ExportCSV)
	if err != nil {
		panic(err)
	}
	rows, _ := csv.NewReader(&buf).ReadAll()
	fmt.Println(n, rows[1][7]) // actor_user_id, defused
	// Output: 1 '=cmd|' /C calc'!A0
}
