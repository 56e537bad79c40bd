package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/hipaakit/hipaakit/durable"
	"io"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// chunkSlot receives a chunk's name from the worker that hashed it.
type chunkSlot struct {
	name [32]byte
	size int
}

type chunkJob struct {
	buf  []byte
	n    int
	slot *chunkSlot
}

// chunkSet is the set of chunks known to be stored (or being stored).
type chunkSet struct {
	mu sync.Mutex
	m  map[[32]byte]struct{}
}

func (s *chunkSet) has(n [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[n]
	return ok
}

func (s *chunkSet) add(n [32]byte) (added bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[n]; ok {
		return false
	}
	s.m[n] = struct{}{}
	return true
}

// listChunks returns the set of stored chunks.
func (r *Repository) listChunks(ctx context.Context) (*chunkSet, error) {
	s := &chunkSet{m: map[[32]byte]struct{}{}}
	err := r.listUnder(ctx, chunkPrefix, func(o ObjectInfo, _ string) error {
		if n, ok := parseChunkObject(o.Name); ok {
			s.m[n] = struct{}{}
		}
		return nil
	})
	return s, err
}

// Backup backs up src and returns the manifest of the new backup.
//
// Chunks are hashed, deduplicated against the chunks already stored,
// encrypted and written with the repository's concurrency; the manifest is
// written last, after every chunk it names is durable. If Backup fails or the
// process dies at any point, no manifest exists and the backup is not listed;
// the chunks it wrote are collected by a later Prune. The manifest is written
// before the backup's audit event (the event records what happened); when
// the event cannot be written Backup fails with ErrAudit and deletes the
// manifest again, so the backup is not listed.
func (r *Repository) Backup(ctx context.Context, src Source) (m *Manifest, err error) {
	return r.backup(ctx, src, backupPlan{})
}

// backupPlan is what a copy keeps of the original backup.
type backupPlan struct {
	id                string    // empty: a new random ID
	started, finished time.Time // zero: the clock's
	set               string    // the set the backup belongs to
	attrs             map[string]string
}

func (r *Repository) backup(ctx context.Context, src Source, plan backupPlan) (m *Manifest, err error) {
	id := plan.id
	if id == "" {
		var idb [16]byte
		if _, err := rand.Read(idb[:]); err != nil {
			return nil, err
		}
		id = hex.EncodeToString(idb[:])
	}
	info := src.Info()
	written := false // the manifest exists: the backup is listed
	defer func() {
		attrs := map[string]string{"source_kind": info.Kind}
		maps.Copy(attrs, plan.attrs)
		if m != nil {
			attrs["bytes"] = strconv.FormatInt(m.Totals.Bytes, 10)
			attrs["entries"] = strconv.FormatInt(m.Totals.Entries, 10)
		}
		reason := ""
		if err != nil {
			reason = "backup_failed"
		}
		if aerr := r.writeAudit(ctx, audit.ActionBackup, err == nil, reason, id, attrs); aerr != nil && err == nil {
			m, err = nil, aerr
		}
		if err != nil && written {
			// A backup is complete only once its event is written: one
			// reported as failed is not left listed, and unaudited.
			if derr := r.target.Delete(context.WithoutCancel(ctx), manifestObject(id)); derr != nil {
				err = errors.Join(err, fmt.Errorf("backup: the unaudited backup %s could not be removed: %w", id, derr))
			}
		}
	}()
	if info.Kind == "" {
		return nil, errors.New("backup: source has no kind")
	}

	lock, err := r.lockForBackup(ctx, id)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := r.releaseLock(ctx, lock); rerr != nil && err == nil {
			err = rerr
		}
	}()

	// Chunks already stored are reused, not rewritten. (A stored chunk that
	// was damaged since is found by Verify; deleting it lets the next
	// backup store it again.)
	known, err := r.listChunks(ctx)
	if err != nil {
		return nil, err
	}

	var total int64
	if sz, ok := src.(Sizer); ok {
		total, _ = sz.Size(ctx) // progress only
	}
	meter := newMeter(r.s.progress, r.s.clock, "backup", total)

	cut := newCDC(r.s.chunkSize)
	m = &Manifest{
		Version: FormatVersion, ID: id, Source: info, Started: r.s.clock.Now().UTC(),
		ChunkSize: cut.max, Set: plan.set,
	}
	if !plan.started.IsZero() {
		m.Started = plan.started
	}
	split, err := r.newSplitter(m)
	if err != nil {
		return nil, err
	}
	parent, err := r.parentEntries(ctx, info, cut.max, known)
	if err != nil {
		return nil, err
	}
	w := r.newWriter(ctx, known, meter, cut.max)
	type pending struct {
		slots  []*chunkSlot
		reused []ChunkRef // the parent's chunks of an unchanged file
	}
	var slots []pending
	walkErr := src.Walk(w.ctx, func(it Item) error {
		if !validEntryPath(it.Path) {
			return fmt.Errorf("backup: source entry %d has an invalid path", len(m.Entries))
		}
		e := Entry{Path: it.Path, Type: it.Type, Mode: uint32(it.Mode.Perm()), Meta: it.Meta}
		if !it.ModTime.IsZero() {
			e.ModTime = it.ModTime.UTC()
		}
		var p pending
		if pe := parent.unchanged(it, e.Mode); pe != nil {
			e.Size, p.reused = pe.Size, pe.Chunks
			meter.add(pe.Size)
		} else if it.Body != nil {
			split.reset(it.Body)
			for {
				buf, err := w.getBuf()
				if err != nil {
					return err
				}
				c, rerr := split.next(buf)
				if rerr == io.EOF {
					w.putBuf(buf)
					break
				}
				if rerr != nil {
					w.putBuf(buf)
					if w.ctx.Err() != nil {
						return context.Cause(w.ctx)
					}
					return fmt.Errorf("backup: read source entry %d: %w", len(m.Entries), durable.WithoutPath(rerr))
				}
				slot := &chunkSlot{size: len(c)}
				p.slots = append(p.slots, slot)
				e.Size += int64(len(c))
				if err := w.submit(chunkJob{buf: c, n: len(c), slot: slot}); err != nil {
					return err
				}
			}
		}
		if it.Rows != nil {
			e.Rows = it.Rows()
		}
		m.Entries = append(m.Entries, e)
		slots = append(slots, p)
		return nil
	})
	if err := w.finish(); err != nil {
		return nil, err
	}
	if bp, ok := r.target.(BatchPutter); ok && walkErr == nil {
		// Every chunk is durable before the manifest names it.
		if err := bp.Flush(ctx); err != nil {
			return nil, err
		}
	}
	if walkErr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, walkErr
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		e.Chunks = append(e.Chunks, slots[i].reused...)
		for _, s := range slots[i].slots {
			e.Chunks = append(e.Chunks, ChunkRef{Name: hex.EncodeToString(s.name[:]), Size: int64(s.size)})
		}
		m.Totals.Entries++
		m.Totals.Chunks += int64(len(e.Chunks))
		m.Totals.Bytes += e.Size
	}
	m.Totals.NewChunks, m.Totals.NewBytes, m.Totals.NewStored = w.newChunks, w.newBytes, w.newStored
	m.Finished = r.s.clock.Now().UTC()
	if !plan.finished.IsZero() {
		m.Finished = plan.finished
	}
	if err := r.putManifest(ctx, m); err != nil {
		return nil, err
	}
	written = true
	meter.done()
	return m, nil
}

func (r *Repository) putManifest(ctx context.Context, m *Manifest) error {
	body, err := encodeManifest(m)
	if err != nil {
		return err
	}
	id, _ := parseID(m.ID)
	env, err := r.keys.sealEnvelope(envManifest, id, body)
	if err != nil {
		return err
	}
	return r.target.Put(ctx, manifestObject(m.ID), env)
}

// chunkWriter hashes, deduplicates, encrypts and stores chunks on a pool of
// workers, with a bounded number of buffers so that memory stays constant in
// the size of the backup.
type chunkWriter struct {
	r      *Repository
	ctx    context.Context
	cancel context.CancelCauseFunc
	known  *chunkSet
	meter  *meter
	bufs   chan []byte
	jobs   chan chunkJob
	wg     sync.WaitGroup

	mu                             sync.Mutex
	newChunks, newBytes, newStored int64
	maxChunk                       int
}

func (r *Repository) newWriter(ctx context.Context, known *chunkSet, meter *meter, maxChunk int) *chunkWriter {
	cctx, cancel := context.WithCancelCause(ctx)
	n := r.s.concurrency
	w := &chunkWriter{
		r: r, ctx: cctx, cancel: cancel, known: known, meter: meter,
		bufs: make(chan []byte, n+1), jobs: make(chan chunkJob), maxChunk: maxChunk,
	}
	for i := 0; i < n+1; i++ {
		w.bufs <- make([]byte, maxChunk)
	}
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go w.work()
	}
	return w
}

func (w *chunkWriter) getBuf() ([]byte, error) {
	select {
	case b := <-w.bufs:
		return b, nil
	case <-w.ctx.Done():
		return nil, context.Cause(w.ctx)
	}
}

func (w *chunkWriter) putBuf(b []byte) { w.bufs <- b[:cap(b)] }

func (w *chunkWriter) submit(j chunkJob) error {
	select {
	case w.jobs <- j:
		return nil
	case <-w.ctx.Done():
		w.putBuf(j.buf)
		return context.Cause(w.ctx)
	}
}

// finish waits for the workers and returns the first error any of them hit.
func (w *chunkWriter) finish() error {
	close(w.jobs)
	w.wg.Wait()
	err := context.Cause(w.ctx)
	w.cancel(nil)
	return err
}

func (w *chunkWriter) work() {
	defer w.wg.Done()
	h := w.r.keys.newNameHash()
	sealed := make([]byte, 0, w.maxChunk+ChunkOverhead)
	scratch := &sealScratch{ad: make([]byte, 0, 128), z: make([]byte, 0, w.maxChunk)}
	for j := range w.jobs {
		if w.ctx.Err() != nil {
			w.putBuf(j.buf)
			continue
		}
		pt := j.buf[:j.n]
		h.Reset()
		h.Write(pt)
		h.Sum(j.slot.name[:0])
		if w.known.add(j.slot.name) {
			var err error
			sealed, err = w.r.keys.sealChunk(sealed, pt, j.slot.name, scratch)
			if err == nil {
				if bp, ok := w.r.target.(BatchPutter); ok {
					err = bp.PutBatched(w.ctx, chunkObject(j.slot.name), sealed)
				} else {
					err = w.r.target.Put(w.ctx, chunkObject(j.slot.name), sealed)
				}
			}
			if err != nil {
				w.cancel(err)
				w.putBuf(j.buf)
				continue
			}
			w.mu.Lock()
			w.newChunks++
			w.newBytes += int64(j.n)
			w.newStored += int64(len(sealed))
			w.mu.Unlock()
		}
		w.meter.add(int64(j.n))
		w.putBuf(j.buf)
	}
}
