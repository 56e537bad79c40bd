package auth

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

// testHasher uses the cheapest parameters the package accepts, so tests
// stay fast; the defaults are exercised by the golden vector and benchmarks.
func testHasher(t testing.TB) *hasher {
	t.Helper()
	h, err := newHasher(Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)
	require.NoError(t, err)
	return h
}

func TestHasherRoundTrip(t *testing.T) {
	ctx := t.Context()
	h := testHasher(t)
	enc, err := h.Hash(ctx, "tangerine-orbit-quiet")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=8192,t=1,p=1$"), enc)
	enc2, err := h.Hash(ctx, "tangerine-orbit-quiet")
	require.NoError(t, err)
	require.NotEqual(t, enc, enc2, "fresh salt per hash")

	ok, rehash, err := h.Verify(ctx, "tangerine-orbit-quiet", enc)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, rehash)
	ok, _, err = h.Verify(ctx, "tangerine-orbit-quieT", enc)
	require.NoError(t, err)
	require.False(t, ok)
}

// NFKC: the composed and decomposed forms of one password verify alike.
func TestHasherNormalises(t *testing.T) {
	ctx := t.Context()
	h := testHasher(t)
	enc, err := h.Hash(ctx, "caf\u00e9-au-lait-17") // é precomposed
	require.NoError(t, err)
	ok, _, err := h.Verify(ctx, "cafe\u0301-au-lait-17", enc) // e + combining acute
	require.NoError(t, err)
	require.True(t, ok)
}

func TestHasherRehashOnParameterChange(t *testing.T) {
	ctx := t.Context()
	old := testHasher(t)
	enc, err := old.Hash(ctx, "walnut-harbor-lantern")
	require.NoError(t, err)
	p := old.Params()
	p.Time = 2
	cur, err := newHasher(p, 1)
	require.NoError(t, err)
	ok, rehash, err := cur.Verify(ctx, "walnut-harbor-lantern", enc)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, rehash)
	ok, rehash, _ = cur.Verify(ctx, "wrong", enc)
	require.False(t, ok)
	require.False(t, rehash, "never ask to rehash on a failed verification")
}

func TestHasherUnknownUserAndMalformed(t *testing.T) {
	ctx := t.Context()
	h := testHasher(t)
	ok, rehash, err := h.Verify(ctx, "anything", "")
	require.NoError(t, err)
	require.False(t, ok)
	require.False(t, rehash)
	ok, _, err = h.Verify(ctx, "anything", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA")
	require.ErrorIs(t, err, ErrMalformedHash)
	require.False(t, ok)
	require.NotContains(t, err.Error(), "AAAA")
}

// The golden vector pins the PHC encoding and the default parameters.
func TestHasherGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/argon2id_golden.txt")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 2)
	pw, enc := lines[0], lines[1]
	h, err := newHasher(DefaultArgon2Params(), 1)
	require.NoError(t, err)
	ok, rehash, err := h.Verify(t.Context(), pw, enc)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, rehash, "golden vector uses the default parameters")
	require.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$"))
	parsed, err := parsePHC(enc)
	require.NoError(t, err)
	require.Equal(t, enc, parsed.String())
}

func TestParsePHC(t *testing.T) {
	good := "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43)
	_, err := parsePHC(good)
	require.NoError(t, err)
	for _, bad := range []string{
		"", "$", "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$t=2,m=19456,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=019456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=0$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=256$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA==$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=1$c2Fs$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAA",
		good + "$",
	} {
		_, err := parsePHC(bad)
		require.ErrorIs(t, err, ErrMalformedHash, bad)
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43))
	f.Add("$argon2id$v=19$m=8192,t=1,p=4$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			return
		}
		if h.params.validate() != nil {
			t.Fatal("parsed parameters out of bounds")
		}
		if h.String() != s {
			t.Fatal("parse/format is not canonical")
		}
	})
}

// At most maxConcurrent hashes run at once, and a waiting caller gives up
// when its context ends.
func TestHasherBoundsConcurrency(t *testing.T) {
	h, err := newHasher(Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	require.NoError(t, err)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			require.NoError(t, h.acquire(t.Context()))
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			h.release()
		})
	}
	wg.Wait()
	require.LessOrEqual(t, peak.Load(), int32(2), "never more than maxConcurrent at once")

	// Fill both slots, then a Hash must fail with the context's error.
	require.NoError(t, h.acquire(t.Context()))
	require.NoError(t, h.acquire(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = h.Hash(ctx, "queued-password-xyz")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, _, err = h.Verify(ctx, "queued-password-xyz", "")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	h.release()
	h.release()
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	for _, p := range []Argon2Params{
		{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 19456, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 19456, Time: 2, Threads: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 19456, Time: 2, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 8},
	} {
		_, err := newHasher(p, 1)
		require.Error(t, err)
	}
	_, err := newHasher(DefaultArgon2Params(), -1)
	require.Error(t, err)
}

// BenchmarkHasherHash is Hasher.Hash at the default parameters;
// BenchmarkArgon2IDKeyBaseline is the bare argon2.IDKey call at the same
// parameters that it wraps.
func BenchmarkHasherHash(b *testing.B) {
	h, err := newHasher(DefaultArgon2Params(), 1)
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "benchmark-password-phrase"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHasherVerify(b *testing.B) {
	h, err := newHasher(DefaultArgon2Params(), 1)
	require.NoError(b, err)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "benchmark-password-phrase")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, _ := h.Verify(ctx, "benchmark-password-phrase", enc); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkArgon2IDKeyBaseline(b *testing.B) {
	p := DefaultArgon2Params()
	salt := make([]byte, p.SaltLen)
	b.ReportAllocs()
	for b.Loop() {
		argon2.IDKey([]byte("benchmark-password-phrase"), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	}
}

// The default profile hashes into the documented PHC prefix, verifies, and
// fails (at the same cost) for a user without a usable hash.
func TestDefaultHasherProfile(t *testing.T) {
	ctx := t.Context()
	h, err := newHasher(DefaultArgon2Params(), 0)
	require.NoError(t, err)
	enc, err := h.Hash(ctx, "tangerine-orbit-quiet-9")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$"))
	ok, rehash, err := h.Verify(ctx, "tangerine-orbit-quiet-9", enc)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, rehash)
	ok, _, _ = h.Verify(ctx, "unknown user: dummy hash, same cost", "")
	require.False(t, ok)
}
