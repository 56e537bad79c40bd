package audit

import (
	"context"
	"testing"
)

// queryBenchLog writes n events to a fresh file log and returns its reader.
func queryBenchLog(b *testing.B, n int) *FileReader {
	b.Helper()
	dir := b.TempDir()
	l, err := OpenFileLog(context.Background(), dir, FileOptions{Signer: testKey(b)})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := l.Write(context.Background(), sampleEvent(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	r, err := OpenFileReader(dir)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchQuery(b *testing.B, s Searcher) {
	f := Filter{Subject: sampleEvent(7).Target.Subject, Limit: 50}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Query(context.Background(), s, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifiedQuery is one page of a query over 5000 records through
// VerifiedSearcher: the whole log is read through a Verifier.
func BenchmarkVerifiedQuery(b *testing.B) {
	r := queryBenchLog(b, 5000)
	benchQuery(b, VerifiedSearcher(r.Entries, testKeys(b)))
}

// BenchmarkFileQueryBaseline is the baseline of BenchmarkVerifiedQuery: the
// same query through FileSearcher, which reads the log without verifying.
func BenchmarkFileQueryBaseline(b *testing.B) {
	r := queryBenchLog(b, 5000)
	benchQuery(b, FileSearcher(r))
}
