package audittest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// RunListingOrder runs the listing-order conformance suite (audit.Query
// and audit.Export) against a trail, with the harness of RunHistory:
// ascending and descending (Filter.Descending, newest first) pages that
// together list every matching record exactly once, the one reversed from
// the other, including records written out of time order and, with a
// replica, a second stream; SearchChain refusing Descending; Export
// ignoring it.
func RunListingOrder(t *testing.T, newHarness func(t *testing.T) HistoryHarness) {
	t.Run("AscendingAndDescending", func(t *testing.T) { testListingOrder(t, newHarness(t)) })
}

func testListingOrder(t *testing.T, h HistoryHarness) {
	ctx := context.Background()
	// Times out of chain order and repeated, on one stream or two.
	offsets := []int{0, 5, 3, 3, 9, 1, 7, 7, 7, 2, 8, 4, 6, 11, 10, 10, 12, 0, 13, 14, 15, 16, 17}
	for i, off := range offsets {
		e := change(audit.ActionRead, "dob", time.Duration(off)*time.Second, "u-alice", "", "")
		e.Origin.RequestID = fmt.Sprintf("req-%d", i)
		if i%3 == 2 {
			e.Target.Subject = "subj-other"
		}
		w := audit.Writer(h.Trail)
		if h.Replica != nil && i%2 == 1 {
			w = h.Replica
		}
		mustWrite(t, w, e)
	}
	list := func(f audit.Filter) []audit.Cursor {
		t.Helper()
		f.Limit = 4
		var out []audit.Cursor
		for pages := 0; ; pages++ {
			if pages > len(offsets) {
				t.Fatalf("listing does not end (descending %v)", f.Descending)
			}
			p, err := audit.Query(ctx, h.Trail, f)
			if err != nil {
				t.Fatalf("Query (descending %v): %v", f.Descending, err)
			}
			for i := range p.Records {
				out = append(out, audit.CursorOf(&p.Records[i]))
			}
			if p.Next.IsZero() {
				return out
			}
			f.After = p.Next
		}
	}
	for _, subject := range []string{"", historySubject} {
		asc := list(audit.Filter{Subject: subject})
		desc := list(audit.Filter{Subject: subject, Descending: true})
		want := 0
		for i := range offsets {
			if subject == "" || i%3 != 2 {
				want++
			}
		}
		if len(asc) != want || len(desc) != want {
			t.Fatalf("subject %q: %d ascending and %d descending records, want %d", subject, len(asc), len(desc), want)
		}
		if !slices.IsSortedFunc(asc, audit.Cursor.Compare) {
			t.Fatalf("subject %q: the ascending listing is out of order: %v", subject, asc)
		}
		rev := slices.Clone(desc)
		slices.Reverse(rev)
		if !slices.Equal(asc, rev) {
			t.Fatalf("subject %q: the descending listing is not the ascending one reversed:\n asc %v\ndesc %v", subject, asc, desc)
		}
	}
	for _, err := range h.Trail.SearchChain(ctx, audit.Filter{Descending: true}) {
		if !errors.Is(err, audit.ErrInvalidFilter) {
			t.Fatalf("SearchChain with Descending: %v, want ErrInvalidFilter", err)
		}
		break
	}
	var plain, newest bytes.Buffer
	if _, err := audit.Export(ctx, &plain, h.Trail, audit.Filter{}, audit.ExportJSONL); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Export(ctx, &newest, h.Trail, audit.Filter{Descending: true}, audit.ExportJSONL); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain.Bytes(), newest.Bytes()) || plain.Len() == 0 {
		t.Fatalf("Export with Descending differs from the export in chain order (%d and %d bytes)", plain.Len(), newest.Len())
	}
}
