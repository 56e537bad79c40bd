package audit

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// benchWriters runs b.N calls of op spread over n goroutines and reports
// events/s.
func benchWriters(b *testing.B, n int, op func(i int) error) {
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / n
	extra := b.N % n
	for w := 0; w < n; w++ {
		k := per
		if w < extra {
			k++
		}
		wg.Add(1)
		go func(w, k int) {
			defer wg.Done()
			for i := 0; i < k; i++ {
				if err := op(w*k + i); err != nil {
					b.Error(err)
					return
				}
			}
		}(w, k)
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkFileLogWrite is the durable append of the file writer: each
// Write returns after its event is fdatasync'ed.
//
// tree=off is the same writer without Merkle tree maintenance (the
// before figure of the tree, in the same run).
func BenchmarkFileLogWrite(b *testing.B) {
	for _, n := range []int{8, 64} {
		for _, off := range []bool{false, true} {
			name := "writers=" + strconv.Itoa(n)
			if off {
				name += "/tree=off"
			}
			b.Run(name, func(b *testing.B) {
				treeOff = off
				defer func() { treeOff = false }()
				l, err := OpenFileLog(context.Background(), b.TempDir(), FileOptions{Signer: testKey(b)})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				e := sampleEvent(0)
				benchWriters(b, n, func(int) error { return l.Write(context.Background(), e) })
			})
		}
	}
}

// rawAppender is the baseline: the same encoded bytes appended to one
// file by concurrent writers, where one write and one fdatasync cover
// whatever is pending — group commit with nothing else to do.
type rawAppender struct {
	f       *os.File
	mu      sync.Mutex
	pending []byte
	spare   []byte
	cur     *batch
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newRawAppender(b *testing.B) *rawAppender {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	a := &rawAppender{f: f, cur: newBatch(), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go a.flusher()
	return a
}

func (a *rawAppender) append(line []byte) error {
	a.mu.Lock()
	a.pending = append(a.pending, line...)
	bt := a.cur
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	<-bt.done
	return bt.err
}

func (a *rawAppender) flusher() {
	defer close(a.done)
	for {
		select {
		case <-a.wake:
		case <-a.stop:
			return
		}
		for {
			a.mu.Lock()
			buf, bt := a.pending, a.cur
			a.pending, a.cur = a.spare[:0], newBatch()
			a.mu.Unlock()
			if len(buf) == 0 {
				close(bt.done)
				break
			}
			if _, err := a.f.Write(buf); err != nil {
				bt.err = err
			} else {
				bt.err = fdatasync(a.f)
			}
			a.spare = buf[:0]
			close(bt.done)
		}
	}
}

func (a *rawAppender) close() {
	close(a.stop)
	<-a.done
	a.f.Close()
}

// BenchmarkRawAppendBaseline is the baseline of BenchmarkFileLogWrite.
func BenchmarkRawAppendBaseline(b *testing.B) {
	c, _ := NewChain(ChainConfig{Stream: "audit"})
	line, _, err := c.AppendNext(nil, sampleEvent(0))
	if err != nil {
		b.Fatal(err)
	}
	line = append(line, '\n')
	for _, n := range []int{8, 64} {
		b.Run("writers="+strconv.Itoa(n), func(b *testing.B) {
			a := newRawAppender(b)
			defer a.close()
			benchWriters(b, n, func(int) error { return a.append(line) })
		})
	}
}

const benchVerifyRecords = 50000

// benchLog builds, in a fresh temporary directory, the log a FileLog
// writes for benchVerifyRecords events (anchored segments of 8 MiB, a
// checkpoint every 10000 records, a closing checkpoint), without paying an
// fdatasync per event.
func benchLog(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	key := testKey(b)
	c, _ := NewChain(ChainConfig{Stream: DefaultStream})
	var f *os.File
	var size int64
	var buf []byte
	flush := func() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		size += int64(len(buf))
		buf = buf[:0]
	}
	open := func() {
		seq, head := c.Head()
		anchor := Checkpoint{Stream: DefaultStream, Seq: seq, Head: head, Time: testTime, Reason: CheckpointAnchor}
		var err error
		if f, _, size, err = createSegment(dir, &anchor, key); err != nil {
			b.Fatal(err)
		}
	}
	seal := func(reason CheckpointReason) {
		seq, head := c.Head()
		line, err := signedLine(&Checkpoint{Stream: DefaultStream, Seq: seq, Head: head, Time: testTime, Reason: reason}, key)
		if err != nil {
			b.Fatal(err)
		}
		buf = append(buf, line...)
	}
	open()
	for i := 1; i <= benchVerifyRecords; i++ {
		var err error
		if buf, _, err = c.AppendNext(buf, sampleEvent(i)); err != nil {
			b.Fatal(err)
		}
		buf = append(buf, '\n')
		if i%10000 == 0 {
			seal(CheckpointCount)
		}
		if len(buf) > 64<<10 {
			flush()
		}
		if size > 8<<20 {
			flush()
			f.Close()
			open()
		}
	}
	seal(CheckpointClose)
	flush()
	f.Close()
	return dir
}

func logBytes(b *testing.B, dir string) int64 {
	segs, err := listSegments(dir)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, s := range segs {
		st, _ := os.Stat(filepath.Join(dir, s))
		n += st.Size()
	}
	return n
}

// BenchmarkVerifyDir verifies the whole log: parse, hash, link and
// checkpoint signatures. One op is one full verification.
func BenchmarkVerifyDir(b *testing.B) {
	dir := benchLog(b)
	b.SetBytes(logBytes(b, dir))
	b.ReportAllocs()
	b.ResetTimer()
	var recs int64
	for i := 0; i < b.N; i++ {
		res, err := VerifyDir(context.Background(), dir, testKeys(b))
		if err != nil {
			b.Fatal(err)
		}
		recs += res.Streams[0].Records
	}
	b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSHA256LinesBaseline is the baseline of BenchmarkVerifyDir: read
// the same files and SHA-256 each line.
func BenchmarkSHA256LinesBaseline(b *testing.B) {
	dir := benchLog(b)
	segs, _ := listSegments(dir)
	b.SetBytes(logBytes(b, dir))
	b.ReportAllocs()
	b.ResetTimer()
	var lines int64
	for i := 0; i < b.N; i++ {
		for _, s := range segs {
			f, err := os.Open(filepath.Join(dir, s))
			if err != nil {
				b.Fatal(err)
			}
			r := bufio.NewReaderSize(f, 256<<10)
			for {
				line, err := r.ReadSlice('\n')
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				_ = sha256.Sum256(line)
				lines++
			}
			f.Close()
		}
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkVerifierRecord is the verification path of stores that keep
// records in rows (audit/pgaudit): re-encode, hash and link each Record.
func BenchmarkVerifierRecord(b *testing.B) {
	c, _ := NewChain(ChainConfig{Stream: "rows"})
	recs := make([]Record, 1024)
	for i := range recs {
		recs[i], _ = c.Next(sampleEvent(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	var v *Verifier
	for i := 0; i < b.N; i++ {
		if i%len(recs) == 0 {
			v = NewVerifier(VerifyOptions{})
		}
		if err := v.Record(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}
