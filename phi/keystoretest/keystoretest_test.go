package keystoretest_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/keystoretest"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

func TestMemstore(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) phi.KeyStore { return memstore.New(memstore.Config{}) })
}

func TestMemstoreShared(t *testing.T) {
	keystoretest.RunShared(t, func(t *testing.T) (phi.KeyStore, phi.KeyStore) {
		s := memstore.New(memstore.Config{})
		return s, s
	})
}

// Mutants: stores that each break one clause of the contract. The suite must
// fail on every one of them.

// noCAS ignores prevVersion.
type noCAS struct{ *memstore.Store }

func (s noCAS) Update(ctx context.Context, k phi.WrappedKeyset, _ int64) error {
	cur, err := s.Get(ctx, k.Ref)
	if err != nil {
		return err
	}
	return s.Store.Update(ctx, k, cur.Version)
}

// overwriteCreate replaces an existing keyset instead of refusing.
type overwriteCreate struct{ *memstore.Store }

func (s overwriteCreate) Create(ctx context.Context, k phi.WrappedKeyset) error {
	if cur, err := s.Get(ctx, k.Ref); err == nil {
		return s.Store.Update(ctx, k, cur.Version)
	}
	return s.Store.Create(ctx, k)
}

// reverseList returns pages in descending order.
type reverseList struct{ *memstore.Store }

func (s reverseList) List(ctx context.Context, after string, limit int) ([]phi.WrappedKeyset, error) {
	l, err := s.Store.List(ctx, after, limit)
	slices.Reverse(l)
	return l, err
}

// shredNeverStoredFails refuses to shred a reference it never held.
type shredNeverStoredFails struct{ *memstore.Store }

func (s shredNeverStoredFails) Shred(ctx context.Context, ref string) ([]uint32, error) {
	if _, err := s.Get(ctx, ref); err != nil {
		return nil, err
	}
	return s.Store.Shred(ctx, ref)
}

// ignoresContext runs every call on a fresh context.
type ignoresContext struct{ *memstore.Store }

func (s ignoresContext) Get(_ context.Context, ref string) (phi.WrappedKeyset, error) {
	return s.Store.Get(context.Background(), ref)
}

var mutants = map[string]func() phi.KeyStore{
	"noCAS":                 func() phi.KeyStore { return noCAS{memstore.New(memstore.Config{})} },
	"overwriteCreate":       func() phi.KeyStore { return overwriteCreate{memstore.New(memstore.Config{})} },
	"reverseList":           func() phi.KeyStore { return reverseList{memstore.New(memstore.Config{})} },
	"shredNeverStoredFails": func() phi.KeyStore { return shredNeverStoredFails{memstore.New(memstore.Config{})} },
	"ignoresContext":        func() phi.KeyStore { return ignoresContext{memstore.New(memstore.Config{})} },
}

const mutantEnv = "KEYSTORETEST_MUTANT"

// TestMutant runs the suite against the mutant named by the environment; it
// only runs as a child of TestSuiteCatchesMutants.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		return // runs only as a child of TestSuiteCatchesMutants
	}
	keystoretest.Run(t, func(t *testing.T) phi.KeyStore { return mutants[name]() })
}

func TestSuiteCatchesMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		return
	}
	for name := range mutants {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutant$", "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store that breaks the contract:\n%s", out)
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("running the child: %v", err)
			}
		})
	}
}
