package kektest_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/kektest"
)

// gcmKEK is a minimal correct KEK: AES-256-GCM with a random nonce and the
// associated data bound.
type gcmKEK struct{ aead cipher.AEAD }

func newGCMKEK(t *testing.T) *gcmKEK {
	key := make([]byte, 32)
	rand.Read(key)
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		t.Fatal(err)
	}
	return &gcmKEK{aead: a}
}

func (k *gcmKEK) ID() string { return "test:gcm" }
func (k *gcmKEK) Wrap(ctx context.Context, pt, ad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k.aead.Seal(nil, nil, pt, ad), nil
}
func (k *gcmKEK) Unwrap(ctx context.Context, ct, ad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pt, err := k.aead.Open(nil, nil, ct, ad)
	if err != nil {
		return nil, fmt.Errorf("test: unwrap failed: %w", phi.ErrTampered)
	}
	return pt, nil
}

func TestReferenceKEK(t *testing.T) {
	kektest.Run(t, func(t *testing.T) phi.KEK { return newGCMKEK(t) })
}

// Mutants that each break one clause; the suite must fail on every one.

// ignoresAD drops the associated data.
type ignoresAD struct{ *gcmKEK }

func (k ignoresAD) Wrap(ctx context.Context, pt, _ []byte) ([]byte, error) {
	return k.gcmKEK.Wrap(ctx, pt, nil)
}
func (k ignoresAD) Unwrap(ctx context.Context, ct, _ []byte) ([]byte, error) {
	return k.gcmKEK.Unwrap(ctx, ct, nil)
}

// leaky echoes the plaintext in a Wrap error on a cancelled context.
type leaky struct{ *gcmKEK }

func (k leaky) Wrap(ctx context.Context, pt, ad []byte) ([]byte, error) {
	if ctx.Err() != nil {
		return nil, fmt.Errorf("test: cannot wrap %q", pt)
	}
	return k.gcmKEK.Wrap(ctx, pt, ad)
}

// plainCopy returns the plaintext and the ciphertext concatenated.
type plainCopy struct{ *gcmKEK }

func (k plainCopy) Wrap(ctx context.Context, pt, ad []byte) ([]byte, error) {
	ct, err := k.gcmKEK.Wrap(ctx, pt, ad)
	return append(ct, pt...), err
}
func (k plainCopy) Unwrap(ctx context.Context, ct, ad []byte) ([]byte, error) {
	if len(ct) < 28 {
		return nil, errors.New("test: short")
	}
	n := (len(ct) - 28) / 2
	return k.gcmKEK.Unwrap(ctx, ct[:len(ct)-n], ad)
}

// unstableID changes its ID on every call.
type unstableID struct {
	*gcmKEK
	n *int
}

func (k unstableID) ID() string { *k.n++; return fmt.Sprint("test:", *k.n) }

var mutants = map[string]func(t *testing.T) phi.KEK{
	"ignoresAD":  func(t *testing.T) phi.KEK { return ignoresAD{newGCMKEK(t)} },
	"leaky":      func(t *testing.T) phi.KEK { return leaky{newGCMKEK(t)} },
	"plainCopy":  func(t *testing.T) phi.KEK { return plainCopy{newGCMKEK(t)} },
	"unstableID": func(t *testing.T) phi.KEK { return unstableID{newGCMKEK(t), new(int)} },
}

const mutantEnv = "KEKTEST_MUTANT"

// TestMutant runs the suite against the mutant named by the environment; it
// does something only as a child of TestSuiteCatchesMutants.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		return
	}
	kektest.Run(t, mutants[name])
}

func TestSuiteCatchesMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		return
	}
	for name := range mutants {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutant$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), mutantEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a KEK that breaks the contract:\n%s", out)
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("running the child: %v", err)
			}
		})
	}
}
