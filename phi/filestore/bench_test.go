package filestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/keystoretest"
)

// Each benchmark sits beside its baseline: the same bytes read or written
// with the bare file primitives the store is built on.

func benchStore(b *testing.B) (*filestore.Store, string) {
	b.Helper()
	dir := b.TempDir()
	s, err := filestore.Open(dir, filestore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Create(context.Background(), keystoretest.Keyset("subject-1", 1)); err != nil {
		b.Fatal(err)
	}
	m, err := filepath.Glob(filepath.Join(dir, "k*"))
	if err != nil || len(m) != 1 {
		b.Fatal(m, err)
	}
	return s, m[0]
}

func BenchmarkGet(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, "subject-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetBaselineReadFile reads the same record file with os.ReadFile.
func BenchmarkGetBaselineReadFile(b *testing.B) {
	_, path := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	k := keystoretest.Keyset("subject-1", 2)
	v := int64(1)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Update(ctx, k, v); err != nil {
			b.Fatal(err)
		}
		v++
	}
}

// BenchmarkUpdateBaselineWriteFileAtomic replaces the same record file with
// durable.WriteFileAtomic (temp file, fsync, rename, directory fsync).
func BenchmarkUpdateBaselineWriteFileAtomic(b *testing.B) {
	_, path := benchStore(b)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := durable.WriteFileAtomic(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}
