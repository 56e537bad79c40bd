package backup

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
)

// chunkReader fetches, authenticates and decrypts chunks with reusable
// buffers.
type chunkReader struct {
	r    *Repository
	pool sync.Pool // *readBuf
}

type readBuf struct {
	stored []byte
	plain  []byte
	ad     []byte
}

// newChunkReader returns a chunk reader whose buffers are sized by the
// chunks read: a small chunk (a note, a key store dump) never takes a
// buffer of the largest chunk's size, and a buffer is grown once to what a
// larger chunk needs, then reused.
func (r *Repository) newChunkReader() *chunkReader {
	return &chunkReader{r: r, pool: sync.Pool{New: func() any { return &readBuf{ad: make([]byte, 0, 128)} }}}
}

// fetch reads chunk ref into a buffer from the pool. The caller returns the
// buffer with release. Errors are *ObjectError naming the chunk object.
func (cr *chunkReader) fetch(ctx context.Context, ref ChunkRef) (*readBuf, []byte, error) {
	name, ok := decodeChunkName(ref.Name)
	if !ok {
		return nil, nil, objErr("read", "chunks/?", corruptf("malformed chunk name in manifest"))
	}
	obj := chunkObject(name)
	rc, err := cr.r.target.Open(ctx, obj)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, objErr("read", obj, ErrNotFound)
		}
		return nil, nil, err
	}
	defer rc.Close()
	b := cr.pool.Get().(*readBuf)
	limit := ref.Size + int64(ChunkOverhead)
	if int64(cap(b.stored)) < limit+1 { // ref.Size is at most MaxChunkSize (DecodeManifest)
		b.stored = make([]byte, 0, limit+1)
	}
	if int64(cap(b.plain)) < ref.Size {
		b.plain = make([]byte, 0, ref.Size)
	}
	stored, err := readInto(b.stored[:0], io.LimitReader(rc, limit+1))
	b.stored = stored[:0]
	if err != nil {
		cr.release(b)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, objErr("read", obj, err)
	}
	if int64(len(stored)) > limit {
		cr.release(b)
		return nil, nil, objErr("read", obj, corruptf("trailing data after chunk"))
	}
	pt, err := cr.r.keys.openChunk(b.plain, stored, name, int(ref.Size), b.ad)
	if err != nil {
		cr.release(b)
		return nil, nil, objErr("read", obj, err)
	}
	b.plain = pt[:0]
	return b, pt, nil
}

func (cr *chunkReader) release(b *readBuf) { cr.pool.Put(b) }

// readInto appends all of r to dst, growing it as needed.
func readInto(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// entryReader is an io.Reader over an entry's content that fetches the next
// chunks ahead, in order, with bounded concurrency.
type entryReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	cr     *chunkReader
	queue  chan chan fetched
	cur    *fetched
	off    int
	err    error
	meter  *meter
	done   chan struct{}
}

type fetched struct {
	buf *readBuf
	pt  []byte
	err error
}

func (cr *chunkReader) entryReader(ctx context.Context, e *Entry, ahead int, meter *meter) *entryReader {
	ctx, cancel := context.WithCancel(ctx)
	er := &entryReader{ctx: ctx, cancel: cancel, cr: cr, queue: make(chan chan fetched, ahead), meter: meter, done: make(chan struct{})}
	go func() {
		defer close(er.queue)
		for _, ref := range e.Chunks {
			ch := make(chan fetched, 1)
			select {
			case er.queue <- ch:
			case <-ctx.Done():
				return
			}
			go func(ref ChunkRef) {
				b, pt, err := cr.fetch(ctx, ref)
				ch <- fetched{buf: b, pt: pt, err: err}
			}(ref)
		}
	}()
	return er
}

func (er *entryReader) Read(p []byte) (int, error) {
	for {
		if er.err != nil {
			return 0, er.err
		}
		if er.cur != nil && er.off < len(er.cur.pt) {
			n := copy(p, er.cur.pt[er.off:])
			er.off += n
			er.meter.add(int64(n))
			return n, nil
		}
		if er.cur != nil {
			er.cr.release(er.cur.buf)
			er.cur = nil
		}
		ch, ok := <-er.queue
		if !ok {
			if err := er.ctx.Err(); err != nil {
				er.err = err
				return 0, err
			}
			er.err = io.EOF
			return 0, io.EOF
		}
		f := <-ch
		if f.err != nil {
			er.err = f.err
			return 0, f.err
		}
		er.cur, er.off = &f, 0
	}
}

// WriteTo writes the rest of the entry to w one chunk at a time, so that a
// restore writes whole chunks instead of small copies.
func (er *entryReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if er.cur != nil && er.off < len(er.cur.pt) {
			n, err := w.Write(er.cur.pt[er.off:])
			er.off += n
			total += int64(n)
			er.meter.add(int64(n))
			if err != nil {
				return total, err
			}
			continue
		}
		if _, err := er.Read(nil); err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
	}
}

// Close stops prefetching and releases buffers.
func (er *entryReader) Close() error {
	er.cancel()
	if er.cur != nil {
		er.cr.release(er.cur.buf)
		er.cur = nil
	}
	for ch := range er.queue {
		if f := <-ch; f.err == nil {
			er.cr.release(f.buf)
		}
	}
	return nil
}

// loadManifest reads, authenticates and decodes the manifest of backup id.
func (r *Repository) loadManifest(ctx context.Context, id string) (*Manifest, error) {
	idb, ok := parseID(id)
	if !ok {
		return nil, objErr("read", "manifests/?", ErrNotFound)
	}
	obj := manifestObject(id)
	b, err := readObject(ctx, r.target, obj, MaxEnvelopeSize)
	if err != nil {
		return nil, err
	}
	body, err := r.keys.openEnvelope(b, envManifest, idb)
	if err != nil {
		return nil, objErr("read", obj, err)
	}
	m, err := DecodeManifest(body)
	if err != nil {
		return nil, objErr("read", obj, err)
	}
	if m.ID != id {
		return nil, objErr("read", obj, corruptf("manifest names another backup"))
	}
	return m, nil
}

// Manifest returns the authenticated manifest of backup id.
func (r *Repository) Manifest(ctx context.Context, id string) (*Manifest, error) {
	return r.loadManifest(ctx, id)
}

// listIDs returns the IDs of every stored manifest, sorted.
func (r *Repository) listIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := r.listUnder(ctx, manifestPrefix, func(_ ObjectInfo, id string) error {
		if _, ok := parseID(id); ok {
			ids = append(ids, id)
		}
		return nil
	})
	sort.Strings(ids)
	return ids, err
}

// listUnder lists the objects whose names begin with prefix and calls fn
// with each and the rest of its name after prefix. Names outside prefix are
// skipped: a Target that ignores the prefix (some S3-compatible servers do)
// must neither crash a listing nor make it act on another kind of object.
func (r *Repository) listUnder(ctx context.Context, prefix string, fn func(o ObjectInfo, rest string) error) error {
	return r.target.List(ctx, prefix, func(o ObjectInfo) error {
		rest, ok := strings.CutPrefix(o.Name, prefix)
		if !ok {
			return nil
		}
		return fn(o, rest)
	})
}
