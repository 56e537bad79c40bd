package backup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// VerifyOptions choose between a full verification (the zero value) and a
// subset check.
type VerifyOptions struct {
	// Fraction, when in (0, 1), checks about that fraction of the backup's
	// distinct chunks.
	Fraction float64
	// ByteBudget, when positive, checks chunks until about that many
	// plaintext bytes have been read.
	ByteBudget int64
	// Seed makes the subset reproducible: the same seed picks the same chunks.
	Seed uint64
}

func (o VerifyOptions) full() bool {
	return (o.Fraction <= 0 || o.Fraction >= 1) && o.ByteBudget <= 0
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	ID       string
	Full     bool
	Chunks   int   // distinct chunks in the backup
	Checked  int   // chunks read and authenticated
	Bytes    int64 // plaintext bytes authenticated
	Elapsed  time.Duration
	Problems []Problem
}

// Problem is one missing or corrupt object.
type Problem struct {
	Object string
	Err    error
}

// VerifyError lists every problem a verification found. errors.Is(err,
// ErrVerifyFailed) holds, and so does errors.Is for each problem's sentinel
// (ErrNotFound, ErrCorrupt, ...).
type VerifyError struct {
	ID       string
	Problems []Problem
}

// Error names the backup and up to ten bad objects.
func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "backup: verification of %s failed: %d problem(s)", e.ID, len(e.Problems))
	for i, p := range e.Problems {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-10)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", p.Object, trimPrefix(p.Err))
	}
	return b.String()
}

// Unwrap returns ErrVerifyFailed and each problem's error.
func (e *VerifyError) Unwrap() []error {
	out := []error{ErrVerifyFailed}
	for _, p := range e.Problems {
		out = append(out, p.Err)
	}
	return out
}

// Verify re-reads backup id: it authenticates the manifest's signature and
// encryption, then reads every distinct chunk (or a reproducible random
// subset, see VerifyOptions), authenticates every byte and checks each
// chunk's keyed hash and size. It reports every missing or corrupt object,
// not only the first, in a *VerifyError. A full verification that passes is
// recorded in the repository (Info.Verified), which Prune respects; when the
// record cannot be written (a read-only target) the report still holds the
// verdict and the error is a *MarkerError (ErrMarkerNotWritten).
func (r *Repository) Verify(ctx context.Context, id string, opts VerifyOptions) (rep *VerifyReport, err error) {
	return r.verify(ctx, id, opts, nil)
}

// VerifyAll verifies each of ids as Verify does, but reads every distinct
// chunk once across all of them: a chunk that one backup's verification
// authenticated in this call counts as checked (and its bytes as
// authenticated) for the others — most chunks are shared between
// successive backups — while one that failed is read again and reported for
// every backup that holds it. Each backup gets its report, its audit event
// and, when it passed in full, its verification record. It returns one
// report and one error per ID, in order, each as Verify would return them;
// it stops early only when ctx ends.
func (r *Repository) VerifyAll(ctx context.Context, ids []string, opts VerifyOptions) ([]*VerifyReport, []error) {
	seen := map[string]bool{}
	reps := make([]*VerifyReport, 0, len(ids))
	errs := make([]error, 0, len(ids))
	for _, id := range ids {
		rep, err := r.verify(ctx, id, opts, seen)
		reps = append(reps, rep)
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return reps, errs
}

func (r *Repository) verify(ctx context.Context, id string, opts VerifyOptions, seen map[string]bool) (rep *VerifyReport, err error) {
	start := r.s.clock.Now()
	rep = &VerifyReport{ID: id, Full: opts.full()}
	defer func() {
		rep.Elapsed = r.s.clock.Now().Sub(start)
		attrs := map[string]string{"op": "verify", "full": strconv.FormatBool(rep.Full),
			"checked_chunks": strconv.Itoa(rep.Checked), "problems": strconv.Itoa(len(rep.Problems))}
		// The event records the verdict; a record that could not be
		// written does not change it.
		passed, reason := err == nil, ""
		if me := (*MarkerError)(nil); errors.As(err, &me) {
			passed, reason = true, "record_not_written"
		} else if err != nil {
			reason = "verify_failed"
		}
		if aerr := r.writeAudit(ctx, audit.ActionBackup, passed, reason, id, attrs); aerr != nil && (err == nil || passed) {
			err = errors.Join(aerr, err)
		}
	}()
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		var oe *ObjectError
		if errors.As(err, &oe) && (errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnsupportedVersion)) {
			rep.Problems = append(rep.Problems, Problem{Object: oe.Object, Err: oe.Err})
			return rep, &VerifyError{ID: id, Problems: rep.Problems}
		}
		return rep, err
	}
	refs := distinctChunks(m)
	rep.Chunks = len(refs)
	sel := selectChunks(refs, opts)
	var total int64
	for _, c := range sel {
		total += c.Size
	}
	meter := newMeter(r.s.progress, r.s.clock, "verify", total)
	cr := r.newChunkReader()

	var mu sync.Mutex
	jobs := make(chan ChunkRef)
	var wg sync.WaitGroup
	for i := 0; i < r.s.concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ref := range jobs {
				mu.Lock()
				known := seen[ref.Name]
				mu.Unlock()
				var b *readBuf
				var ferr error
				if !known {
					b, _, ferr = cr.fetch(ctx, ref)
				}
				mu.Lock()
				if ferr == nil {
					if b != nil {
						cr.release(b)
					}
					if seen != nil {
						seen[ref.Name] = true
					}
					rep.Checked++
					rep.Bytes += ref.Size
				} else if oe := (*ObjectError)(nil); errors.As(ferr, &oe) {
					rep.Problems = append(rep.Problems, Problem{Object: oe.Object, Err: oe.Err})
				} else if err == nil {
					err = ferr // an I/O failure, not a verdict about the object
				}
				mu.Unlock()
				meter.add(ref.Size)
			}
		}()
	}
	for _, ref := range sel {
		if ctx.Err() != nil {
			break
		}
		jobs <- ref
	}
	close(jobs)
	wg.Wait()
	meter.done()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	if err != nil {
		return rep, err
	}
	sort.Slice(rep.Problems, func(i, j int) bool { return rep.Problems[i].Object < rep.Problems[j].Object })
	if len(rep.Problems) > 0 {
		return rep, &VerifyError{ID: id, Problems: rep.Problems}
	}
	if rep.Full {
		if err := r.writeVerified(ctx, id, "verify"); err != nil {
			return rep, &MarkerError{ID: id, Err: err}
		}
	}
	return rep, nil
}

// distinctChunks returns the backup's chunks without repeats, in first-use
// order.
func distinctChunks(m *Manifest) []ChunkRef {
	seen := map[string]bool{}
	var out []ChunkRef
	for _, e := range m.Entries {
		for _, c := range e.Chunks {
			if !seen[c.Name] {
				seen[c.Name] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// selectChunks picks the subset opts asks for, reproducibly from opts.Seed.
func selectChunks(refs []ChunkRef, opts VerifyOptions) []ChunkRef {
	if opts.full() || len(refs) == 0 {
		return refs
	}
	perm := rand.New(rand.NewPCG(opts.Seed, 0x6869706161)).Perm(len(refs))
	var out []ChunkRef
	var bytes int64
	limit := len(refs)
	if opts.Fraction > 0 && opts.Fraction < 1 {
		limit = int(float64(len(refs))*opts.Fraction + 0.5)
		if limit < 1 {
			limit = 1
		}
	}
	for _, i := range perm {
		if len(out) >= limit {
			break
		}
		if opts.ByteBudget > 0 && bytes >= opts.ByteBudget {
			break
		}
		out = append(out, refs[i])
		bytes += refs[i].Size
	}
	return out
}
