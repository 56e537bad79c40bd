package audit

import (
	"container/heap"
	"context"
	"iter"
	"slices"
)

// RecordSource reads a whole log from its start, in stored order; every call
// starts a new pass. A read error is yielded once, as the last pair.
type RecordSource func(ctx context.Context) iter.Seq2[Record, error]

// ScanSearcher returns a Searcher that answers every filter by reading src
// from start to end, for logs without an index such as the file log. Its
// memory is bounded by the page size, not by the size of the log:
//
//   - A search with a Limit keeps only the Limit smallest matching positions
//     after Filter.After while it reads (one pass).
//   - A search without a Limit (an export) reads pages of MaxPageSize. When
//     the matching records turn out to be stored in listing order already
//     (the usual case: one stream appended with a steady clock), the rest is
//     streamed in one more pass; otherwise each further page is one pass.
func ScanSearcher(src RecordSource) Searcher { return scanSearcher{src: src} }

type scanSearcher struct{ src RecordSource }

func (s scanSearcher) Search(ctx context.Context, f Filter) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if err := f.ValidateSearch(); err != nil {
			yield(Record{}, err)
			return
		}
		if f.Limit > 0 {
			page, _, err := s.page(ctx, &f, f.Limit)
			if err != nil {
				yield(Record{}, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			return
		}
		after := f.After
		for {
			g := f
			g.After = after
			page, ordered, err := s.page(ctx, &g, MaxPageSize)
			if err != nil {
				yield(Record{}, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if len(page) < MaxPageSize {
				return
			}
			after = CursorOf(&page[len(page)-1])
			if ordered {
				g.After = after
				s.stream(ctx, &g, yield)
				return
			}
		}
	}
}

// page returns the k smallest matching records after f.After in listing
// order, and whether all matching records after f.After were stored in
// listing order.
func (s scanSearcher) page(ctx context.Context, f *Filter, k int) ([]Record, bool, error) {
	h := &recordHeap{}
	ordered := true
	var last Cursor
	for r, err := range s.src(ctx) {
		if err != nil {
			return nil, false, err
		}
		if !f.Match(&r) {
			continue
		}
		c := CursorOf(&r)
		if !f.After.IsZero() && c.Compare(f.After) <= 0 {
			continue
		}
		if !last.IsZero() && c.Compare(last) <= 0 {
			ordered = false
		}
		last = c
		switch {
		case h.Len() < k:
			heap.Push(h, heapItem{c, r})
		case c.Compare((*h)[0].c) < 0:
			(*h)[0] = heapItem{c, r}
			heap.Fix(h, 0)
		}
	}
	out := make([]Record, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(heapItem).r
	}
	return out, ordered, nil
}

// stream yields, in stored order, the matching records after f.After of a
// log known to store them in listing order.
func (s scanSearcher) stream(ctx context.Context, f *Filter, yield func(Record, error) bool) {
	for r, err := range s.src(ctx) {
		if err != nil {
			yield(Record{}, err)
			return
		}
		if !f.Match(&r) {
			continue
		}
		if c := CursorOf(&r); c.Compare(f.After) <= 0 {
			continue
		}
		if !yield(r, nil) {
			return
		}
	}
}

type heapItem struct {
	c Cursor
	r Record
}

// recordHeap is a max-heap on the cursor: its root is the largest kept.
type recordHeap []heapItem

func (h recordHeap) Len() int           { return len(h) }
func (h recordHeap) Less(i, j int) bool { return h[i].c.Compare(h[j].c) > 0 }
func (h recordHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *recordHeap) Push(x any)        { *h = append(*h, x.(heapItem)) }
func (h *recordHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = slices.Delete(old, len(old)-1, len(old))
	return x
}

// FileSearcher returns a Searcher over the file log that r reads (one
// stream per directory), scanning it as ScanSearcher describes; it is a
// ChainSearcher too (the log stores its stream in chain order). It sees
// what r sees: with a reader of an open FileLog, only durable records. It
// does not verify what it reads; VerifiedSearcher(r.Entries, opts) does.
func FileSearcher(r *FileReader) ChainSearcher {
	return chainScanSearcher{scanSearcher{src: func(ctx context.Context) iter.Seq2[Record, error] { return r.Records(ctx, 0) }}}
}

// MemorySearcher is a Searcher over records held in memory, for tests and
// small tools.
func MemorySearcher(records []Record) Searcher {
	return ScanSearcher(func(context.Context) iter.Seq2[Record, error] {
		return func(yield func(Record, error) bool) {
			for _, r := range records {
				if !yield(r, nil) {
					return
				}
			}
		}
	})
}
