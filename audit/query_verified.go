package audit

import (
	"context"
	"iter"
)

// ChainSearcher is a Searcher that can also list records in chain order:
// each stream's records in sequence order (streams one after another or
// interleaved), the order Verify reads. Export uses it for ExportJSONL, so
// that an export of whole streams verifies with Verify whatever order the
// events' times are in (the HTTP middleware stamps a request's event when
// it starts and chains it when it ends, so overlapping requests are chained
// out of time order). FileSearcher, VerifiedSearcher and pgaudit.Store
// implement it.
type ChainSearcher interface {
	Searcher
	// SearchChain yields the records that match f (Filter.Match), in chain
	// order, stopping after f.Limit records when f.Limit > 0. f.After,
	// a position in the listing order, must be zero. An error is yielded
	// once, as the last pair.
	SearchChain(ctx context.Context, f Filter) iter.Seq2[Record, error]
}

// EntrySource reads a whole trail's records and checkpoints in the order
// Verify expects, such as FileReader.Entries or pgaudit.Store.Entries;
// every call starts a new pass.
type EntrySource func(ctx context.Context) iter.Seq2[Entry, error]

// VerifiedSearcher returns a Searcher that checks what it reads: every
// search reads the whole trail from src through a Verifier with opts and
// answers from the records that verify, so a modified, inserted, deleted or
// reordered record, a forged checkpoint or truncation below an expected
// checkpoint is reported (as the *VerifyError) instead of returned. A search
// with a Limit (Query) yields nothing when the trail fails; a search without
// one (Export) yields the records that verified before the failure and then
// the failure (Export then fails). It costs one pass over the whole trail
// per search (per page of an unordered export), and like every
// verification it vouches for records after a stream's last checkpoint only
// by their chain: set opts.RequireSealed to refuse them.
func VerifiedSearcher(src EntrySource, opts VerifyOptions) ChainSearcher {
	s := &verifiedSource{src: src, opts: opts}
	return chainScanSearcher{scanSearcher{src: s.records}}
}

type verifiedSource struct {
	src  EntrySource
	opts VerifyOptions
}

// records yields the records of one pass over src as they verify, then
// the verification's failure, if any.
func (s *verifiedSource) records(ctx context.Context) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		v := NewVerifier(s.opts)
		n := 0
		for e, err := range s.src(ctx) {
			if err == nil {
				if n++; n%4096 == 0 {
					err = ctx.Err()
				}
			}
			if err == nil {
				switch {
				case e.Record != nil:
					err = v.Record(e.Record)
				case e.Checkpoint != nil:
					err = v.Checkpoint(e.Checkpoint)
				}
			}
			if err != nil {
				yield(Record{}, err)
				return
			}
			if e.Record != nil && !yield(*e.Record, nil) {
				return
			}
		}
		if _, err := v.Finish(); err != nil {
			yield(Record{}, err)
		}
	}
}

// chainScanSearcher is a scanSearcher whose source is in chain order.
type chainScanSearcher struct{ scanSearcher }

func (s chainScanSearcher) SearchChain(ctx context.Context, f Filter) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if err := f.ValidateSearch(); err != nil {
			yield(Record{}, err)
			return
		}
		if !f.After.IsZero() {
			yield(Record{}, &FilterError{"after", "not used in chain order"})
			return
		}
		if f.Descending {
			yield(Record{}, &FilterError{"descending", "not used in chain order"})
			return
		}
		n := 0
		for r, err := range s.src(ctx) {
			if err != nil {
				yield(Record{}, err)
				return
			}
			if !f.Match(&r) {
				continue
			}
			if !yield(r, nil) {
				return
			}
			if n++; f.Limit > 0 && n == f.Limit {
				return
			}
		}
	}
}
