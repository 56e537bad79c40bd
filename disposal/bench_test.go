package disposal

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
)

// BenchmarkShred measures Shredder.Shred on the embedded default stores
// (phi/filestore keys, file ledger, both fsync'd) for a subject with 1 and
// with 100,000 values sealed under its key. Crypto-shredding destroys the
// subject's one keyset, whatever the volume of data sealed under it, so the
// two must be of the same order (target ratio ≈ 1).
//
// Baseline: BenchmarkShredBaselineKeyStore, the bare filestore Shred of a
// subject's keyset — the least any crypto-shred must pay — beside which the
// ledger append (fsync) and certificate signing show.
func BenchmarkShred(b *testing.B) {
	for _, values := range []int{1, 100000} {
		b.Run(fmt.Sprintf("values=%d", values), func(b *testing.B) {
			ctx := context.Background()
			f := benchFixture(b)
			plaintext := make([]byte, 64)
			// Seal every subject's values first, so that the timed loop runs
			// shreds back to back in both cases.
			subjects := make([]string, b.N)
			for i := range subjects {
				subjects[i] = fmt.Sprintf("patient-%d", i)
				for v := 0; v < values; v++ {
					if _, err := f.vault.Seal(ctx, phi.Binding{Subject: subjects[i], Field: "note", Record: strconv.Itoa(v)}, plaintext); err != nil {
						b.Fatal(err)
					}
				}
			}
			runtime.GC()
			b.ResetTimer()
			for _, subject := range subjects {
				if _, err := f.shredder.Shred(ctx, subject, "benchmark"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkShredBaselineKeyStore(b *testing.B) {
	ctx := context.Background()
	f := benchFixture(b)
	subjects := make([]string, b.N)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("patient-%d", i)
		if _, err := f.vault.Seal(ctx, phi.Binding{Subject: subjects[i], Field: "note"}, []byte("x")); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	b.ResetTimer()
	for _, subject := range subjects {
		if _, err := f.keys.Shred(ctx, subject); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFixture(b *testing.B) *fixture {
	b.Helper()
	root := b.TempDir()
	keys, err := filestore.Open(filepath.Join(root, "keys"), filestore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ledger, store := openFileLedger(b, filepath.Join(root, "ledger"))
	f := newFixture(b, keys, store, nil)
	f.ledger, f.shredder.cfg.Ledger = ledger, ledger
	return f
}
