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
	for i := range m.Entries {
		e := &m.Entries[i]
		er := cr.entryReader(ctx, e, r.s.concurrency, meter)
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
