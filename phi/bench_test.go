package phi_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// Each benchmark runs its baseline beside it (see ARCHITECTURE.md, "Benchmarks
// and their baselines"): raw AES-256-GCM from crypto/cipher with a fresh
// random 96-bit nonce and a freshly allocated output per call, over the same
// plaintext and associated data of the same length. Target: warm Seal and
// Open of 1 KiB within 1.5x the baseline's ns/op.

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"1KiB", 1024}, {"64KiB", 64 * 1024}}

var benchBinding = phi.Binding{Subject: "550e8400-e29b-41d4-a716-446655440000", Field: "note"}

// benchAD has the length of the associated data the Vault builds for benchBinding.
var benchAD = make([]byte, len("hipaakit.phi.v1")+8+len(benchBinding.Subject)+len(benchBinding.Field))

// loop runs op b.N times and reports, beside ns/op, the process CPU time
// per operation (cpu-ns/op), which the load of a shared machine disturbs
// less.
func loop(b *testing.B, op func()) {
	b.ReportAllocs()
	start, ok := cpuTime()
	for b.Loop() {
		op()
	}
	if end, ok2 := cpuTime(); ok && ok2 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

func baselineGCM(b *testing.B) cipher.AEAD {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	g, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func benchVault(b *testing.B) *phi.Vault {
	v, err := phi.NewVault(phi.VaultConfig{Keys: memstore.New(memstore.Config{}), KEK: testKEK(b, 1)})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkSeal(b *testing.B) {
	for _, sz := range benchSizes {
		pt := make([]byte, sz.n)
		b.Run(sz.name+"/baseline", func(b *testing.B) {
			g := baselineGCM(b)
			b.SetBytes(int64(sz.n))
			loop(b, func() { _ = g.Seal(nil, nil, pt, benchAD) })
		})
		b.Run(sz.name+"/vault", func(b *testing.B) {
			v := benchVault(b)
			if _, err := v.Seal(ctx, benchBinding, pt); err != nil { // warm the cache
				b.Fatal(err)
			}
			b.SetBytes(int64(sz.n))
			loop(b, func() {
				if _, err := v.Seal(ctx, benchBinding, pt); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, sz := range benchSizes {
		pt := make([]byte, sz.n)
		b.Run(sz.name+"/baseline", func(b *testing.B) {
			g := baselineGCM(b)
			ct := g.Seal(nil, nil, pt, benchAD)
			b.SetBytes(int64(sz.n))
			loop(b, func() {
				if _, err := g.Open(nil, nil, ct, benchAD); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(sz.name+"/vault", func(b *testing.B) {
			v := benchVault(b)
			s, err := v.Seal(ctx, benchBinding, pt)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(sz.n))
			loop(b, func() {
				if _, err := v.Open(ctx, benchBinding, s); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkSubjectKeyCreation measures the first Seal for a new subject:
// generating a keyset, wrapping it under the local KEK and storing it
// (memory store). Its baseline is a warm 64-byte Seal.
func BenchmarkSubjectKeyCreation(b *testing.B) {
	pt := make([]byte, 64)
	b.Run("baseline", func(b *testing.B) {
		g := baselineGCM(b)
		loop(b, func() { _ = g.Seal(nil, nil, pt, benchAD) })
	})
	b.Run("vault", func(b *testing.B) {
		v := benchVault(b)
		i := 0
		loop(b, func() {
			i++
			if _, err := v.Seal(ctx, phi.Binding{Subject: fmt.Sprintf("s-%d", i), Field: "f"}, pt); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkOpenCold measures Open of 1 KiB when the subject's keys are not
// cached: a read from the file store (the embedded default) and an unwrap
// by the local KEK on every call.
func BenchmarkOpenCold(b *testing.B) {
	pt := make([]byte, 1024)
	b.Run("baseline", func(b *testing.B) {
		g := baselineGCM(b)
		ct := g.Seal(nil, nil, pt, benchAD)
		loop(b, func() {
			if _, err := g.Open(nil, nil, ct, benchAD); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("filestore", func(b *testing.B) {
		dir := b.TempDir()
		store, err := filestore.Open(dir, filestore.Config{})
		if err != nil {
			b.Fatal(err)
		}
		kek, err := localkek.FromDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		v, err := phi.NewVault(phi.VaultConfig{Keys: store, KEK: kek, NoCache: true})
		if err != nil {
			b.Fatal(err)
		}
		s, err := v.Seal(ctx, benchBinding, pt)
		if err != nil {
			b.Fatal(err)
		}
		loop(b, func() {
			if _, err := v.Open(ctx, benchBinding, s); err != nil {
				b.Fatal(err)
			}
		})
	})
}
