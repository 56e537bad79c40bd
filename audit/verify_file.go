package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Verification of a file log runs in three stages so that it uses every
// core while its memory stays fixed: one goroutine reads lines into blocks,
// workers parse and hash the blocks' lines (the costly, independent part),
// and the caller's goroutine links the results in order through a
// Verifier. A fixed pool of blocks bounds the memory.

const (
	verifyBlockLines = 512
	verifyBlockBytes = 256 << 10
)

type verifyBlock struct {
	seg   string
	data  []byte // the block's lines back to back, without newlines
	lines []blockLine
	ready chan struct{} // receives once when a worker has parsed the block
}

type blockLine struct {
	lineNo     int64
	off        int64 // offset in the segment
	start, end int   // position in data
	rec        Record
	sum        Hash
	cp         *Checkpoint
	err        error
}

func (b *verifyBlock) reset(seg string) {
	b.seg, b.data, b.lines = seg, b.data[:0], b.lines[:0]
}

// verifyParallel implements FileReader.Verify.
func (r *FileReader) verifyParallel(ctx context.Context, opts VerifyOptions) (Result, error) {
	segs, err := r.Segments()
	if err != nil {
		return Result{}, err
	}
	workers := runtime.GOMAXPROCS(0)
	if workers > 4 {
		workers = 4
	}
	nblocks := workers + 3
	free := make(chan *verifyBlock, nblocks)
	for i := 0; i < nblocks; i++ {
		free <- &verifyBlock{data: make([]byte, 0, verifyBlockBytes+4096), lines: make([]blockLine, 0, verifyBlockLines), ready: make(chan struct{}, 1)}
	}
	work := make(chan *verifyBlock, nblocks)
	order := make(chan *verifyBlock, nblocks)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			verifyWorker(work)
		}()
	}
	var torn TornTailError
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(order)
		readErr = r.readBlocks(ctx, segs, free, work, order, quit, &torn)
	}()

	v := NewVerifier(opts)
	limit := r.limit()
	var linkErr error
	stopped := false
	for b := range order {
		<-b.ready
		if !stopped {
			linkErr = linkBlock(v, b, limit)
			stopped = linkErr != nil || v.lastSeq() >= limit
			if stopped {
				close(quit)
			}
		}
		free <- b
	}
	wg.Wait()
	switch {
	case linkErr != nil:
		return Result{}, linkErr
	case stopped:
	case readErr != nil:
		var le *LineError
		if errors.As(readErr, &le) {
			v.At(le.Segment, le.Line)
			return Result{}, v.unreadable(le.Err)
		}
		return Result{}, readErr
	case torn.Bytes > 0 && r.durable == nil && !r.live():
		v.At(torn.Segment, 0)
		return Result{}, v.unreadable(&torn)
	}
	return v.Finish()
}

// readBlocks fills blocks with the lines of segs, in order.
func (r *FileReader) readBlocks(ctx context.Context, segs []SegmentInfo, free, work, order chan *verifyBlock, quit chan struct{}, torn *TornTailError) error {
	var b *verifyBlock
	send := func() bool {
		if b == nil || len(b.lines) == 0 {
			return true
		}
		select {
		case order <- b:
		case <-quit:
			return false
		}
		work <- b
		b = nil
		return ctx.Err() == nil
	}
	for i, s := range segs {
		f, err := os.Open(filepath.Join(r.dir, s.Name))
		if err != nil {
			return err
		}
		sc := newLineScanner(f)
		for {
			line, off, lineNo, err := sc.next()
			if err == io.EOF {
				break
			}
			if errors.Is(err, ErrTorn) && i == len(segs)-1 {
				*torn = TornTailError{Segment: s.Name, Offset: off, Bytes: int64(len(line))}
				break
			}
			if err != nil {
				f.Close()
				send()
				return &LineError{Segment: s.Name, Line: lineNo, Offset: off, Err: err}
			}
			if b != nil && (len(b.lines) == verifyBlockLines || len(b.data)+len(line) > verifyBlockBytes) {
				if !send() {
					f.Close()
					return ctx.Err()
				}
			}
			if b == nil {
				select {
				case b = <-free:
				case <-quit:
					f.Close()
					return nil
				}
				b.reset(s.Name)
			}
			start := len(b.data)
			b.data = append(b.data, line...)
			b.lines = append(b.lines, blockLine{lineNo: lineNo, off: off, start: start, end: len(b.data)})
		}
		f.Close()
		if !send() {
			return ctx.Err()
		}
	}
	return nil
}

// verifyWorker parses and hashes the lines of each block.
func verifyWorker(work chan *verifyBlock) {
	h := sha256.New()
	var lite liteScratch
	for b := range work {
		for i := range b.lines {
			ln := &b.lines[i]
			line := b.data[ln.start:ln.end]
			ln.cp, ln.err = nil, nil
			if ln.lineNo == 1 {
				if err := checkAnchorLine(rawLine{seg: b.seg, lineNo: 1, line: line}); err != nil {
					ln.err = err
					continue
				}
			}
			if bytes.HasPrefix(line, checkpointPrefix) {
				c, err := ParseCheckpoint(line)
				if err != nil {
					ln.err = &LineError{Segment: b.seg, Line: ln.lineNo, Offset: ln.off, Err: err}
				} else {
					ln.cp = &c
				}
				continue
			}
			// The record's strings alias the block (kept until it is
			// linked) or the worker's arena (reused on the next line):
			// clone the one arena-backed value the linker reads.
			sum, err := parseRecordInto(line, unsafe.String(unsafe.SliceData(line), len(line)), &ln.rec, h, &lite)
			if err != nil {
				ln.err = &LineError{Segment: b.seg, Line: ln.lineNo, Offset: ln.off, Err: err}
				continue
			}
			for k, val := range ln.rec.Event.Attrs {
				ln.rec.Event.Attrs[k] = strings.Clone(val)
			}
			ln.sum = sum
		}
		b.ready <- struct{}{}
	}
}

// linkBlock feeds a parsed block to the verifier in order.
func linkBlock(v *Verifier, b *verifyBlock, limit uint64) error {
	for i := range b.lines {
		ln := &b.lines[i]
		v.At(b.seg, ln.lineNo)
		var err error
		switch {
		case ln.err != nil:
			var le *LineError
			if !errors.As(ln.err, &le) {
				return ln.err // an anchor failure, already a *VerifyError
			}
			err = v.unreadable(le.Err)
		case ln.cp != nil:
			err = v.Checkpoint(ln.cp)
		default:
			if v.err != nil {
				return v.err
			}
			err = v.record(&ln.rec, ln.sum)
		}
		if err != nil {
			return err
		}
		if v.lastSeq() >= limit {
			return nil
		}
	}
	return nil
}
