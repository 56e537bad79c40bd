package kektest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
)

// canary is the plaintext marker that must never appear in errors or
// ciphertexts.
const canary = "KEKTEST-CANARY-7b1f0c"

// plaintext returns n bytes that begin with the canary (when n is large
// enough) and are distinct for each n.
func plaintext(n int) []byte {
	p := make([]byte, n)
	copy(p, canary)
	for i := len(canary); i < n; i++ {
		p[i] = byte(i*31 + n)
	}
	return p
}

// Run runs the phi.KEK conformance suite. newKEK is called once per subtest.
func Run(t *testing.T, newKEK func(t *testing.T) phi.KEK) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, k phi.KEK)
	}{
		{"ID", testID},
		{"RoundTrip", testRoundTrip},
		{"WrongAssociatedData", testWrongAssociatedData},
		{"Randomized", testRandomized},
		{"Tampered", testTampered},
		{"InputsUnchanged", testInputsUnchanged},
		{"Concurrent", testConcurrent},
		{"NoPlaintextInErrors", testNoPlaintextInErrors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			k := newKEK(t)
			if k == nil {
				t.Fatal("kektest: newKEK returned nil")
			}
			tc.fn(t, ctx, k)
		})
	}
}

func mustWrap(t *testing.T, ctx context.Context, k phi.KEK, pt, ad []byte) []byte {
	t.Helper()
	ct, err := k.Wrap(ctx, pt, ad)
	if err != nil {
		t.Fatalf("Wrap(%d bytes): %v", len(pt), err)
	}
	if len(ct) == 0 {
		t.Fatalf("Wrap(%d bytes) returned an empty ciphertext", len(pt))
	}
	return ct
}

// mustFail checks that Unwrap fails and returns no plaintext, and returns the
// error.
func mustFail(t *testing.T, ctx context.Context, k phi.KEK, what string, ct, ad []byte) error {
	t.Helper()
	pt, err := k.Unwrap(ctx, ct, ad)
	if err == nil {
		t.Fatalf("Unwrap of %s succeeded", what)
	}
	if len(pt) != 0 {
		t.Fatalf("Unwrap of %s failed but returned %d plaintext bytes", what, len(pt))
	}
	if !errors.Is(err, phi.ErrTampered) {
		t.Fatalf("Unwrap of %s: %v; want an error matching phi.ErrTampered (the phi.KEK contract)", what, err)
	}
	return err
}

func testID(t *testing.T, ctx context.Context, k phi.KEK) {
	id := k.ID()
	if id == "" {
		t.Fatal("ID() is empty")
	}
	ct := mustWrap(t, ctx, k, plaintext(32), []byte("subject-1"))
	if _, err := k.Unwrap(ctx, ct, []byte("subject-1")); err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if got := k.ID(); got != id {
		t.Fatalf("ID() changed from %q to %q", id, got)
	}
	if strings.Contains(id, canary) {
		t.Fatal("ID() contains plaintext")
	}
}

func testRoundTrip(t *testing.T, ctx context.Context, k phi.KEK) {
	for _, n := range []int{1, 16, 32, 100, 1024, 4096} {
		for _, ad := range [][]byte{[]byte("subject-1"), []byte("_hipaakit.blind-index"), nil, bytes.Repeat([]byte("a"), phi.MaxRefLen)} {
			pt := plaintext(n)
			ct := mustWrap(t, ctx, k, pt, ad)
			got, err := k.Unwrap(ctx, ct, ad)
			if err != nil {
				t.Fatalf("Unwrap(%d bytes, ad %q): %v", n, ad, err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("Unwrap(%d bytes, ad %q) returned other bytes", n, ad)
			}
		}
	}
}

func testWrongAssociatedData(t *testing.T, ctx context.Context, k phi.KEK) {
	pt := plaintext(64)
	ct := mustWrap(t, ctx, k, pt, []byte("subject-a"))
	for _, ad := range []string{"subject-b", "Subject-a", "subject-a\x00", "subject-", "subject-aa", ""} {
		mustFail(t, ctx, k, fmt.Sprintf("a ciphertext wrapped for %q with associated data %q", "subject-a", ad), ct, []byte(ad))
	}
	ct = mustWrap(t, ctx, k, pt, nil)
	mustFail(t, ctx, k, "a ciphertext wrapped with no associated data, given some", ct, []byte("subject-a"))
}

func testRandomized(t *testing.T, ctx context.Context, k phi.KEK) {
	pt, ad := plaintext(64), []byte("subject-1")
	a := mustWrap(t, ctx, k, pt, ad)
	b := mustWrap(t, ctx, k, pt, ad)
	if bytes.Equal(a, b) {
		t.Fatal("two Wraps of the same plaintext returned the same ciphertext")
	}
	if bytes.Contains(a, []byte(canary)) {
		t.Fatal("the ciphertext contains the plaintext")
	}
}

// tamperings returns variants of ct that must not unwrap: every single-bit
// flip position (sampled to at most 256 positions), truncations, an extension
// and the empty input.
func tamperings(ct []byte) map[string][]byte {
	out := map[string][]byte{
		"empty":    {},
		"nil":      nil,
		"extended": append(bytes.Clone(ct), 0),
	}
	step := max(1, len(ct)/256)
	for i := 0; i < len(ct); i += step {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		out[fmt.Sprintf("bit 0 of byte %d flipped", i)] = c
		c = bytes.Clone(ct)
		c[i] ^= 0x80
		out[fmt.Sprintf("bit 7 of byte %d flipped", i)] = c
		out[fmt.Sprintf("truncated to %d bytes", i)] = bytes.Clone(ct[:i])
	}
	return out
}

func testTampered(t *testing.T, ctx context.Context, k phi.KEK) {
	ad := []byte("subject-1")
	ct := mustWrap(t, ctx, k, plaintext(48), ad)
	for what, c := range tamperings(ct) {
		mustFail(t, ctx, k, what, c, ad)
	}
	// The original still opens: the failures above had no side effect.
	if _, err := k.Unwrap(ctx, ct, ad); err != nil {
		t.Fatalf("Unwrap of the untouched ciphertext after failed attempts: %v", err)
	}
}

func testInputsUnchanged(t *testing.T, ctx context.Context, k phi.KEK) {
	pt, ad := plaintext(64), []byte("subject-1")
	ptCopy, adCopy := bytes.Clone(pt), bytes.Clone(ad)
	ct := mustWrap(t, ctx, k, pt, ad)
	if !bytes.Equal(pt, ptCopy) || !bytes.Equal(ad, adCopy) {
		t.Fatal("Wrap modified its inputs")
	}
	ctCopy := bytes.Clone(ct)
	got, err := k.Unwrap(ctx, ct, ad)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if !bytes.Equal(ct, ctCopy) || !bytes.Equal(ad, adCopy) {
		t.Fatal("Unwrap modified its inputs")
	}
	// The returned plaintext is the caller's: clearing it (as callers do with
	// key material) must not break a later Unwrap.
	clear(got)
	again, err := k.Unwrap(ctx, ct, ad)
	if err != nil || !bytes.Equal(again, pt) {
		t.Fatalf("Unwrap after clearing an earlier result: %v", err)
	}
}

func testConcurrent(t *testing.T, ctx context.Context, k phi.KEK) {
	const workers, rounds = 8, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				pt := plaintext(32 + w*rounds + r)
				ad := fmt.Appendf(nil, "subject-%d-%d", w, r)
				ct, err := k.Wrap(ctx, pt, ad)
				if err != nil {
					errs <- fmt.Errorf("Wrap: %w", err)
					return
				}
				got, err := k.Unwrap(ctx, ct, ad)
				if err != nil {
					errs <- fmt.Errorf("Unwrap: %w", err)
					return
				}
				if !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("worker %d round %d: Unwrap returned other bytes", w, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testNoPlaintextInErrors(t *testing.T, ctx context.Context, k phi.KEK) {
	pt, ad := plaintext(64), []byte("subject-1")
	ct := mustWrap(t, ctx, k, pt, ad)
	errs := []error{mustFail(t, ctx, k, "a ciphertext under other associated data", ct, []byte("subject-2"))}
	for what, c := range tamperings(ct) {
		errs = append(errs, mustFail(t, ctx, k, what, c, ad))
	}
	// Plaintext handed to Wrap (for example in a failing call on a cancelled
	// context) must not show up either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := k.Wrap(cctx, pt, ad); err != nil {
		errs = append(errs, err)
	}
	secrets := []string{canary, hex.EncodeToString(pt), base64.StdEncoding.EncodeToString(pt), base64.RawURLEncoding.EncodeToString(pt), fmt.Sprint(pt)}
	for _, err := range errs {
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Fatalf("an error leaks the plaintext: %s", text)
				}
			}
		}
	}
}
