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
	h := &recordHeap{desc: f.Descending}
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
		if !f.Follows(c) {
			continue
		}
		if !last.IsZero() && f.compare(c, last) <= 0 {
			ordered = false
		}
		last = c
		switch {
		case h.Len() < k:
			heap.Push(h, heapItem{c, r})
		case f.compare(c, h.items[0].c) < 0:
			h.items[0] = heapItem{c, r}
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
		if !f.Follows(CursorOf(&r)) {
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

// recordHeap is a max-heap in the listing order (ascending, or descending
// when desc): its root is the last kept record of the page.
type recordHeap struct {
	items []heapItem
	desc  bool
}

func (h *recordHeap) Len() int { return len(h.items) }
func (h *recordHeap) Less(i, j int) bool {
	n := h.items[i].c.Compare(h.items[j].c)
	if h.desc {
		return n < 0
	}
	return n > 0
}
func (h *recordHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *recordHeap) Push(x any)    { h.items = append(h.items, x.(heapItem)) }
func (h *recordHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = slices.Delete(h.items, len(h.items)-1, len(h.items))
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
