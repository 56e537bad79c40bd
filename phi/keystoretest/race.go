package keystoretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

// racers is how many goroutines take part in each race.
const racers = 16

// race runs fn(i) for i in [0, n) on n goroutines released at once, and
// returns their errors by index.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = fn(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

// oneWinner checks that exactly one error is nil and that every other one
// matches loser; it returns the winner's index.
func oneWinner(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: racers %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Fatalf("%s: racer %d failed with %v, want %v", what, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no racer succeeded", what)
	}
	return winner
}

// pick returns stores[i%len(stores)], so races can spread over several
// handles on the same storage.
func pick(stores []phi.KeyStore, i int) phi.KeyStore { return stores[i%len(stores)] }

func raceCreate(t *testing.T, ctx context.Context, stores ...phi.KeyStore) {
	const ref = "contended"
	errs := race(racers, func(i int) error { return pick(stores, i).Create(ctx, Keyset(ref, i)) })
	w := oneWinner(t, "racing Create on one ref", errs, phi.ErrKeyExists)
	for _, s := range stores {
		got := mustGet(t, ctx, s, ref)
		sameContent(t, "Get after racing Create", got, Keyset(ref, w))
		if got.Version != 1 {
			t.Errorf("Version after racing Create = %d, want 1", got.Version)
		}
	}
}

func raceUpdate(t *testing.T, ctx context.Context, stores ...phi.KeyStore) {
	const ref = "contended"
	mustCreate(t, ctx, stores[0], Keyset(ref, 1000))
	for round := int64(1); round <= 3; round++ {
		errs := race(racers, func(i int) error {
			return pick(stores, i).Update(ctx, Keyset(ref, int(round)*100+i), round)
		})
		w := oneWinner(t, fmt.Sprintf("racing Update(prev=%d)", round), errs, phi.ErrConflict)
		for _, s := range stores {
			got := mustGet(t, ctx, s, ref)
			sameContent(t, "Get after racing Update", got, Keyset(ref, int(round)*100+w))
			if got.Version != round+1 {
				t.Fatalf("Version after racing Update(prev=%d) = %d, want %d", round, got.Version, round+1)
			}
		}
	}
}

func testRaceCreate(t *testing.T, ctx context.Context, s phi.KeyStore) { raceCreate(t, ctx, s) }
func testRaceUpdate(t *testing.T, ctx context.Context, s phi.KeyStore) { raceUpdate(t, ctx, s) }

// testRaceShredUpdate races Shred against Update and Create: Shred always
// succeeds, the end state is shredded, and the others either won before the
// shred or report it.
func testRaceShredUpdate(t *testing.T, ctx context.Context, s phi.KeyStore) {
	const ref = "contended"
	k := Keyset(ref, 1)
	mustCreate(t, ctx, s, k)
	var destroyed [racers][]uint32
	errs := race(racers, func(i int) error {
		switch i % 3 {
		case 0:
			var err error
			destroyed[i], err = s.Shred(ctx, ref)
			return err
		case 1:
			return s.Update(ctx, Keyset(ref, i), 1)
		default:
			return s.Create(ctx, Keyset(ref, i))
		}
	})
	var nonEmpty int
	for i, err := range errs {
		switch i % 3 {
		case 0:
			if err != nil {
				t.Errorf("racing Shred %d: %v", i, err)
			}
			if len(destroyed[i]) > 0 {
				nonEmpty++
			}
		case 1:
			if err != nil && !errors.Is(err, phi.ErrShredded) && !errors.Is(err, phi.ErrConflict) {
				t.Errorf("Update racing Shred: %v, want nil, ErrShredded or ErrConflict", err)
			}
		default:
			if !errors.Is(err, phi.ErrKeyExists) && !errors.Is(err, phi.ErrShredded) {
				t.Errorf("Create racing Shred: %v, want ErrKeyExists or ErrShredded", err)
			}
		}
	}
	if nonEmpty != 1 {
		t.Errorf("%d racing Shreds reported destroyed keys, want exactly 1", nonEmpty)
	}
	_, err := s.Get(ctx, ref)
	wantErr(t, "Get after racing Shred", err, phi.ErrShredded)
}

// testRaceCreateDistinct creates many refs at once: none is lost.
func testRaceCreateDistinct(t *testing.T, ctx context.Context, s phi.KeyStore) {
	refs := make([]string, racers*2)
	for i := range refs {
		refs[i] = fmt.Sprintf("subject-%03d", i)
	}
	errs := race(len(refs), func(i int) error { return s.Create(ctx, Keyset(refs[i], i)) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Create(%q): %v", refs[i], err)
		}
	}
	list, err := s.List(ctx, "", len(refs)+1)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := refsOf(list); !slices.Equal(got, refs) {
		t.Fatalf("List after concurrent Creates = %q, want %q", got, refs)
	}
}

// RunShared checks that two stores over the same underlying storage (for
// example two handles on one directory, possibly in different processes, or
// two pools on one database) behave as one store: each sees the other's
// changes, and compare-and-swap holds across them. open is called once per
// subtest and must return two handles on the same, empty storage.
func RunShared(t *testing.T, open func(t *testing.T) (a, b phi.KeyStore)) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, a, b phi.KeyStore)
	}{
		{"SeesOthersChanges", testSharedSeesChanges},
		{"RaceCreate", func(t *testing.T, ctx context.Context, a, b phi.KeyStore) { raceCreate(t, ctx, a, b) }},
		{"RaceUpdate", func(t *testing.T, ctx context.Context, a, b phi.KeyStore) { raceUpdate(t, ctx, a, b) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			a, b := open(t)
			if a == nil || b == nil {
				t.Fatal("keystoretest: open returned a nil store")
			}
			tc.fn(t, ctx, a, b)
		})
	}
}

func testSharedSeesChanges(t *testing.T, ctx context.Context, a, b phi.KeyStore) {
	k := Keyset("subject-1", 1)
	mustCreate(t, ctx, a, k)
	sameContent(t, "B.Get after A.Create", mustGet(t, ctx, b, k.Ref), k)
	wantErr(t, "B.Create after A.Create", b.Create(ctx, Keyset(k.Ref, 2)), phi.ErrKeyExists)

	k2 := Keyset("subject-1", 2)
	if err := b.Update(ctx, k2, 1); err != nil {
		t.Fatalf("B.Update: %v", err)
	}
	got := mustGet(t, ctx, a, k.Ref)
	sameContent(t, "A.Get after B.Update", got, k2)
	if got.Version != 2 {
		t.Errorf("A sees Version %d after B.Update, want 2", got.Version)
	}
	wantErr(t, "A.Update with the version B replaced", a.Update(ctx, Keyset(k.Ref, 3), 1), phi.ErrConflict)

	list, err := b.List(ctx, "", 10)
	if err != nil || len(list) != 1 || list[0].Version != 2 {
		t.Fatalf("B.List = %+v, %v; want the one keyset at version 2", refsOf(list), err)
	}

	destroyed, err := a.Shred(ctx, k.Ref)
	if err != nil || !slices.Equal(destroyed, k2.KeyIDs) {
		t.Fatalf("A.Shred = %v, %v; want %v", destroyed, err, k2.KeyIDs)
	}
	_, err = b.Get(ctx, k.Ref)
	wantErr(t, "B.Get after A.Shred", err, phi.ErrShredded)
	wantErr(t, "B.Create after A.Shred", b.Create(ctx, Keyset(k.Ref, 4)), phi.ErrShredded)
	wantErr(t, "B.Update after A.Shred", b.Update(ctx, Keyset(k.Ref, 4), 2), phi.ErrShredded)
	if d, err := b.Shred(ctx, k.Ref); err != nil || len(d) != 0 {
		t.Fatalf("B.Shred after A.Shred = %v, %v; want nothing destroyed", d, err)
	}
}
