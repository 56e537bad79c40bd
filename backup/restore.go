package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// Sink receives a restore. Implementations stage everything they receive and
// make it visible only in Commit, atomically where the storage allows:
// DirSink (a directory), FileKeyStoreSink (a phi/filestore directory,
// staged and swapped in), KeyStoreSink (any phi.KeyStore, keyset by keyset;
// both replay the disposal ledger first) and backup/pgsource.Sink (a
// PostgreSQL schema).
type Sink interface {
	// Begin checks that the sink accepts m's source kind and that its
	// destination is empty (ErrExists otherwise) unless force is set.
	Begin(ctx context.Context, m *Manifest, force bool) error
	// Entry receives one entry; body yields its authenticated content and
	// fails with the restore's error when a chunk is missing or corrupt.
	Entry(ctx context.Context, e *Entry, body io.Reader) error
	// Commit makes the staged restore visible.
	Commit(ctx context.Context) error
	// Abort discards whatever was staged. It is called after any failure.
	Abort(ctx context.Context) error
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Force lets the restore replace existing data at the destination.
	Force bool
}

// RestoreReport is the result of Restore.
type RestoreReport struct {
	ID      string
	Entries int64
	Bytes   int64
	Elapsed time.Duration
}

// Restore restores backup id into sink. Every chunk is authenticated and
// checked against the manifest before its bytes reach the sink; any failure
// aborts the sink, so a partial restore is never committed.
func (r *Repository) Restore(ctx context.Context, id string, sink Sink, opts RestoreOptions) (rep *RestoreReport, err error) {
	start := r.s.clock.Now()
	rep = &RestoreReport{ID: id}
	defer func() {
		rep.Elapsed = r.s.clock.Now().Sub(start)
		attrs := map[string]string{"entries": strconv.FormatInt(rep.Entries, 10), "bytes": strconv.FormatInt(rep.Bytes, 10),
			"forced": strconv.FormatBool(opts.Force)}
		reason := ""
		if err != nil {
			reason = "restore_failed"
		}
		if aerr := r.writeAudit(ctx, audit.ActionRestore, err == nil, reason, id, attrs); aerr != nil && err == nil {
			err = aerr
		}
	}()
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return rep, err
	}
	if err := r.restoreInto(ctx, m, sink, opts.Force, "restore", rep); err != nil {
		return rep, err
	}
	return rep, nil
}

func (r *Repository) restoreInto(ctx context.Context, m *Manifest, sink Sink, force bool, op string, rep *RestoreReport) (err error) {
	if err := sink.Begin(ctx, m, force); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if aerr := sink.Abort(context.WithoutCancel(ctx)); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
	}()
	meter := newMeter(r.s.progress, r.s.clock, op, m.Totals.Bytes)
	cr := r.newChunkReader()
	ahead := newReadAhead(r, cr, m, meter)
	defer ahead.close()
	for i := range m.Entries {
		e := &m.Entries[i]
		er := ahead.take(ctx, i)
		cb := &countingReader{r: er}
		err := sink.Entry(ctx, e, cb)
		if err == nil && cb.n != e.Size {
			// The sink stopped early: read the rest so that nothing is
			// committed unchecked.
			_, cerr := io.Copy(io.Discard, cb)
			if cerr == nil && cb.n != e.Size {
				cerr = fmt.Errorf("backup: entry %d: sink did not consume the entry", i)
			}
			err = cerr
		}
		er.Close()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		rep.Entries++
		rep.Bytes += e.Size
	}
	if err := sink.Commit(ctx); err != nil {
		return err
	}
	meter.done()
	return nil
}

// readAhead starts the readers of the entries after the one being
// restored, so that a restore of many small files fetches and decrypts the
// next files' chunks while the sink writes the current one instead of one
// file after another. It starts readers while the entries ahead hold at
// most concurrency average chunks' worth of bytes (and at most
// maxReadAhead entries), so memory stays bounded whatever the manifest;
// the current entry's own reader fetches its chunks ahead as before. The
// sink still receives the entries in order, each checked as before.
type readAhead struct {
	r       *Repository
	cr      *chunkReader
	m       *Manifest
	meter   *meter
	readers map[int]*entryReader
	next    int   // the next entry without a reader
	bytes   int64 // what the readers of entries after the current hold
	chunks  int   // and how many chunks
}

// maxReadAhead bounds the entries with a reader ahead; at most
// 2*concurrency of their chunks are fetched at once, each into a buffer of
// its own size (chunkReader), and their bytes stay within concurrency
// average chunks.
const maxReadAhead = 64

func newReadAhead(r *Repository, cr *chunkReader, m *Manifest, meter *meter) *readAhead {
	return &readAhead{r: r, cr: cr, m: m, meter: meter, readers: map[int]*entryReader{}}
}

// take returns entry i's reader (the caller closes it) and starts the
// readers of the entries after it that fit the budget.
func (a *readAhead) take(ctx context.Context, i int) *entryReader {
	er, ok := a.readers[i]
	if ok {
		delete(a.readers, i)
		a.bytes -= a.m.Entries[i].Size
		a.chunks -= len(a.m.Entries[i].Chunks)
	} else {
		er = a.cr.entryReader(ctx, &a.m.Entries[i], a.r.s.concurrency, a.meter)
		a.next = i + 1
	}
	budget := int64(a.r.s.concurrency) * int64(a.r.s.chunkSize)
	for a.next < len(a.m.Entries) && a.next-i <= maxReadAhead {
		e := &a.m.Entries[a.next]
		if a.bytes+e.Size > budget || a.chunks+len(e.Chunks) > 2*a.r.s.concurrency {
			break
		}
		a.readers[a.next] = a.cr.entryReader(ctx, e, a.r.s.concurrency, a.meter)
		a.bytes += e.Size
		a.chunks += len(e.Chunks)
		a.next++
	}
	return er
}

// close stops the readers started and not taken.
func (a *readAhead) close() {
	for i, er := range a.readers {
		er.Close()
		delete(a.readers, i)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// WriteTo passes whole chunks on when the underlying reader can.
func (c *countingReader) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := c.r.(io.WriterTo); ok {
		n, err := wt.WriteTo(w)
		c.n += n
		return n, err
	}
	n, err := io.Copy(w, struct{ io.Reader }{c.r})
	c.n += n
	return n, err
}
