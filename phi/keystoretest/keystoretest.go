package keystoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
)

// callTimeout bounds every subtest, so that a store that deadlocks fails
// instead of hanging the test binary.
const callTimeout = 60 * time.Second

// Keyset returns a distinct, deterministic WrappedKeyset for ref: its
// ciphertext and key IDs depend on ref and seed. Stores' own tests can use it
// to build fixtures that look like the suite's.
func Keyset(ref string, seed int) phi.WrappedKeyset {
	ct := fmt.Appendf(nil, "wrapped-keyset|%s|%d|", ref, seed)
	for len(ct) < 96 {
		ct = append(ct, byte(len(ct)*7+seed))
	}
	return phi.WrappedKeyset{
		Ref:        ref,
		Version:    99, // Create must ignore it and store 1
		KEKID:      fmt.Sprintf("test-kek:%d", seed%3),
		Ciphertext: ct,
		KeyIDs:     []uint32{uint32(1000 + seed), uint32(2000 + seed)},
	}
}

// Run runs the phi.KeyStore conformance suite. newStore is called once per
// subtest and must return an empty store.
func Run(t *testing.T, newStore func(t *testing.T) phi.KeyStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, s phi.KeyStore)
	}{
		{"GetUnknown", testGetUnknown},
		{"CreateGet", testCreateGet},
		{"CreateExisting", testCreateExisting},
		{"CreateDoesNotRetainInput", testCreateDoesNotRetainInput},
		{"GetReturnsCopy", testGetReturnsCopy},
		{"RefsAreDistinct", testRefsAreDistinct},
		{"UpdateCAS", testUpdateCAS},
		{"UpdateUnknown", testUpdateUnknown},
		{"UpdateShredded", testUpdateShredded},
		{"ShredStored", testShredStored},
		{"ShredIdempotent", testShredIdempotent},
		{"ShredNeverStored", testShredNeverStored},
		{"ShredLeavesOthers", testShredLeavesOthers},
		{"ListEmpty", testListEmpty},
		{"ListOrderAndPagination", testListOrderAndPagination},
		{"RaceCreate", testRaceCreate},
		{"RaceUpdate", testRaceUpdate},
		{"RaceShredUpdate", testRaceShredUpdate},
		{"RaceCreateDistinct", testRaceCreateDistinct},
		{"ContextCanceled", testContextCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			s := newStore(t)
			if s == nil {
				t.Fatal("keystoretest: newStore returned nil")
			}
			tc.fn(t, ctx, s)
		})
	}
}

// mustCreate creates k or fails the test.
func mustCreate(t *testing.T, ctx context.Context, s phi.KeyStore, k phi.WrappedKeyset) {
	t.Helper()
	if err := s.Create(ctx, k); err != nil {
		t.Fatalf("Create(%q): %v", k.Ref, err)
	}
}

// mustGet gets ref or fails the test.
func mustGet(t *testing.T, ctx context.Context, s phi.KeyStore, ref string) phi.WrappedKeyset {
	t.Helper()
	k, err := s.Get(ctx, ref)
	if err != nil {
		t.Fatalf("Get(%q): %v", ref, err)
	}
	return k
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// sameContent fails the test unless got holds want's Ref, KEKID, Ciphertext
// and KeyIDs.
func sameContent(t *testing.T, what string, got, want phi.WrappedKeyset) {
	t.Helper()
	if got.Ref != want.Ref {
		t.Errorf("%s: Ref = %q, want %q", what, got.Ref, want.Ref)
	}
	if got.KEKID != want.KEKID {
		t.Errorf("%s: KEKID = %q, want %q", what, got.KEKID, want.KEKID)
	}
	if !bytes.Equal(got.Ciphertext, want.Ciphertext) {
		t.Errorf("%s: Ciphertext differs from what was stored", what)
	}
	if !slices.Equal(got.KeyIDs, want.KeyIDs) {
		t.Errorf("%s: KeyIDs = %v, want %v", what, got.KeyIDs, want.KeyIDs)
	}
}

func testGetUnknown(t *testing.T, ctx context.Context, s phi.KeyStore) {
	_, err := s.Get(ctx, "never-stored")
	wantErr(t, "Get of a never-stored ref", err, phi.ErrKeyNotFound)
	if errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Get of a never-stored ref: %v also matches ErrShredded", err)
	}
}

func testCreateGet(t *testing.T, ctx context.Context, s phi.KeyStore) {
	k := Keyset("subject-1", 1)
	mustCreate(t, ctx, s, k)
	got := mustGet(t, ctx, s, k.Ref)
	sameContent(t, "Get after Create", got, k)
	if got.Version != 1 {
		t.Errorf("Version after Create = %d, want 1", got.Version)
	}
	if got.Created.IsZero() || got.Updated.IsZero() {
		t.Errorf("Created (%v) and Updated (%v) must be set by the store", got.Created, got.Updated)
	}
	if !got.Updated.Equal(got.Created) {
		t.Errorf("after Create, Updated (%v) != Created (%v)", got.Updated, got.Created)
	}
	// A store may run on a fake clock, so only implausible times (a unit
	// mix-up, an unset field) fail.
	if y := got.Created.Year(); y < 2000 || y > 2200 {
		t.Errorf("Created = %v is not a plausible time", got.Created)
	}
	again := mustGet(t, ctx, s, k.Ref)
	if !again.Created.Equal(got.Created) || again.Version != got.Version {
		t.Errorf("two Gets disagree: %+v vs %+v", again.Created, got.Created)
	}
}

func testCreateExisting(t *testing.T, ctx context.Context, s phi.KeyStore) {
	k := Keyset("subject-1", 1)
	mustCreate(t, ctx, s, k)
	err := s.Create(ctx, Keyset("subject-1", 2))
	wantErr(t, "second Create of one ref", err, phi.ErrKeyExists)
	got := mustGet(t, ctx, s, k.Ref)
	sameContent(t, "Get after refused Create", got, k)
	if got.Version != 1 {
		t.Errorf("Version after refused Create = %d, want 1", got.Version)
	}
}

func testCreateDoesNotRetainInput(t *testing.T, ctx context.Context, s phi.KeyStore) {
	k := Keyset("subject-1", 1)
	want := Keyset("subject-1", 1)
	mustCreate(t, ctx, s, k)
	clear(k.Ciphertext)
	clear(k.KeyIDs)
	sameContent(t, "Get after the caller reused its slices", mustGet(t, ctx, s, want.Ref), want)

	mustCreate(t, ctx, s, Keyset("subject-2", 2))
	u := Keyset("subject-2", 3)
	wantU := Keyset("subject-2", 3)
	if err := s.Update(ctx, u, 1); err != nil {
		t.Fatalf("Update: %v", err)
	}
	clear(u.Ciphertext)
	clear(u.KeyIDs)
	sameContent(t, "Get after the caller reused its Update slices", mustGet(t, ctx, s, wantU.Ref), wantU)
}

func testGetReturnsCopy(t *testing.T, ctx context.Context, s phi.KeyStore) {
	want := Keyset("subject-1", 1)
	mustCreate(t, ctx, s, want)
	got := mustGet(t, ctx, s, want.Ref)
	clear(got.Ciphertext)
	clear(got.KeyIDs)
	sameContent(t, "Get after mutating an earlier Get's result", mustGet(t, ctx, s, want.Ref), want)
	list, err := s.List(ctx, "", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d keysets, %v; want 1", len(list), err)
	}
	clear(list[0].Ciphertext)
	clear(list[0].KeyIDs)
	sameContent(t, "Get after mutating a List result", mustGet(t, ctx, s, want.Ref), want)
}

// distinctRefs are valid references that a careless store could confuse:
// case variants (case-insensitive file systems and collations), punctuation,
// prefixes, the reserved prefix and the longest reference allowed.
func distinctRefs() []string {
	return []string{
		"a", "A", "a.", "a_", "a-", "a:b", "a@b", "a+b", "ab", "aB", "Ab", "AB",
		"0", "00", "_hipaakit.blind-index", "urn:uuid:6f1c2f4e-0000-4000-8000-000000000001",
		strings.Repeat("z", phi.MaxRefLen), strings.Repeat("Z", phi.MaxRefLen-1) + "z",
	}
}

func testRefsAreDistinct(t *testing.T, ctx context.Context, s phi.KeyStore) {
	refs := distinctRefs()
	for i, ref := range refs {
		mustCreate(t, ctx, s, Keyset(ref, i))
	}
	for i, ref := range refs {
		sameContent(t, fmt.Sprintf("Get(%q)", ref), mustGet(t, ctx, s, ref), Keyset(ref, i))
	}
}

func testUpdateCAS(t *testing.T, ctx context.Context, s phi.KeyStore) {
	k1 := Keyset("subject-1", 1)
	mustCreate(t, ctx, s, k1)
	created := mustGet(t, ctx, s, k1.Ref)

	k2 := Keyset("subject-1", 2)
	k2.Version = 42 // Update must ignore it and store prevVersion+1
	if err := s.Update(ctx, k2, 1); err != nil {
		t.Fatalf("Update(prev=1): %v", err)
	}
	got := mustGet(t, ctx, s, k2.Ref)
	sameContent(t, "Get after Update", got, k2)
	if got.Version != 2 {
		t.Errorf("Version after Update = %d, want 2", got.Version)
	}
	if !got.Created.Equal(created.Created) {
		t.Errorf("Update changed Created from %v to %v", created.Created, got.Created)
	}
	if got.Updated.Before(got.Created) {
		t.Errorf("Updated (%v) before Created (%v)", got.Updated, got.Created)
	}

	for _, prev := range []int64{1, 0, 3, -1} {
		err := s.Update(ctx, Keyset("subject-1", 9), prev)
		wantErr(t, fmt.Sprintf("Update(prev=%d) with stored version 2", prev), err, phi.ErrConflict)
	}
	got = mustGet(t, ctx, s, k2.Ref)
	sameContent(t, "Get after refused Updates", got, k2)
	if got.Version != 2 {
		t.Errorf("Version after refused Updates = %d, want 2", got.Version)
	}

	k3 := Keyset("subject-1", 3)
	if err := s.Update(ctx, k3, 2); err != nil {
		t.Fatalf("Update(prev=2): %v", err)
	}
	if got := mustGet(t, ctx, s, k3.Ref); got.Version != 3 {
		t.Errorf("Version after second Update = %d, want 3", got.Version)
	}
}

func testUpdateUnknown(t *testing.T, ctx context.Context, s phi.KeyStore) {
	err := s.Update(ctx, Keyset("never-stored", 1), 1)
	wantErr(t, "Update of a never-stored ref", err, phi.ErrKeyNotFound)
	_, err = s.Get(ctx, "never-stored")
	wantErr(t, "Get after refused Update", err, phi.ErrKeyNotFound)
}

func testUpdateShredded(t *testing.T, ctx context.Context, s phi.KeyStore) {
	mustCreate(t, ctx, s, Keyset("subject-1", 1))
	if _, err := s.Shred(ctx, "subject-1"); err != nil {
		t.Fatalf("Shred: %v", err)
	}
	for _, prev := range []int64{1, 2} {
		err := s.Update(ctx, Keyset("subject-1", 2), prev)
		wantErr(t, fmt.Sprintf("Update(prev=%d) of a shredded ref", prev), err, phi.ErrShredded)
	}
	_, err := s.Get(ctx, "subject-1")
	wantErr(t, "Get after Update of a shredded ref", err, phi.ErrShredded)
}

func testShredStored(t *testing.T, ctx context.Context, s phi.KeyStore) {
	k := Keyset("subject-1", 1)
	mustCreate(t, ctx, s, k)
	destroyed, err := s.Shred(ctx, k.Ref)
	if err != nil {
		t.Fatalf("Shred: %v", err)
	}
	if !slices.Equal(destroyed, k.KeyIDs) {
		t.Errorf("Shred destroyed %v, want the stored key IDs %v", destroyed, k.KeyIDs)
	}
	_, err = s.Get(ctx, k.Ref)
	wantErr(t, "Get after Shred", err, phi.ErrShredded)
	if errors.Is(err, phi.ErrKeyNotFound) {
		t.Errorf("Get after Shred: %v also matches ErrKeyNotFound", err)
	}
	err = s.Create(ctx, Keyset(k.Ref, 2))
	wantErr(t, "Create after Shred", err, phi.ErrShredded)
	_, err = s.Get(ctx, k.Ref)
	wantErr(t, "Get after refused Create", err, phi.ErrShredded)
	list, err := s.List(ctx, "", 10)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 0 {
		t.Errorf("List after Shred returned %d keysets (tombstones must not be listed)", len(list))
	}
}

func testShredIdempotent(t *testing.T, ctx context.Context, s phi.KeyStore) {
	mustCreate(t, ctx, s, Keyset("subject-1", 1))
	if _, err := s.Shred(ctx, "subject-1"); err != nil {
		t.Fatalf("first Shred: %v", err)
	}
	for i := range 2 {
		destroyed, err := s.Shred(ctx, "subject-1")
		if err != nil {
			t.Fatalf("repeated Shred #%d: %v", i+2, err)
		}
		if len(destroyed) != 0 {
			t.Errorf("repeated Shred #%d destroyed %v, want nothing", i+2, destroyed)
		}
	}
	_, err := s.Get(ctx, "subject-1")
	wantErr(t, "Get after repeated Shred", err, phi.ErrShredded)
}

func testShredNeverStored(t *testing.T, ctx context.Context, s phi.KeyStore) {
	destroyed, err := s.Shred(ctx, "never-stored")
	if err != nil {
		t.Fatalf("Shred of a never-stored ref: %v", err)
	}
	if len(destroyed) != 0 {
		t.Errorf("Shred of a never-stored ref destroyed %v", destroyed)
	}
	_, err = s.Get(ctx, "never-stored")
	wantErr(t, "Get after Shred in advance", err, phi.ErrShredded)
	err = s.Create(ctx, Keyset("never-stored", 1))
	wantErr(t, "Create after Shred in advance", err, phi.ErrShredded)
	err = s.Update(ctx, Keyset("never-stored", 1), 1)
	wantErr(t, "Update after Shred in advance", err, phi.ErrShredded)
}

func testShredLeavesOthers(t *testing.T, ctx context.Context, s phi.KeyStore) {
	refs := []string{"subject-1", "subject-2", "Subject-1", "subject-10"}
	for i, ref := range refs {
		mustCreate(t, ctx, s, Keyset(ref, i))
	}
	if _, err := s.Shred(ctx, "subject-1"); err != nil {
		t.Fatalf("Shred: %v", err)
	}
	for i, ref := range refs[1:] {
		sameContent(t, fmt.Sprintf("Get(%q) after shredding another ref", ref), mustGet(t, ctx, s, ref), Keyset(ref, i+1))
	}
}

func testListEmpty(t *testing.T, ctx context.Context, s phi.KeyStore) {
	list, err := s.List(ctx, "", 10)
	if err != nil {
		t.Fatalf("List of an empty store: %v", err)
	}
	if len(list) != 0 {
		t.Fatalf("List of an empty store returned %d keysets", len(list))
	}
}

func testListOrderAndPagination(t *testing.T, ctx context.Context, s phi.KeyStore) {
	refs := distinctRefs()
	refs = append(refs, "subject-1", "subject-10", "subject-2", "Subject-3", "z-last", "m:mid@x", "shredded-1", "shredded-2")
	// Create in an order unrelated to the sorted one.
	for i := len(refs) - 1; i >= 0; i-- {
		mustCreate(t, ctx, s, Keyset(refs[i], i))
	}
	for _, ref := range []string{"shredded-1", "shredded-2", "never-stored-tombstone"} {
		if _, err := s.Shred(ctx, ref); err != nil {
			t.Fatalf("Shred(%q): %v", ref, err)
		}
	}
	seed := make(map[string]int, len(refs))
	var want []string
	for i, ref := range refs {
		seed[ref] = i
		if !strings.HasPrefix(ref, "shredded-") {
			want = append(want, ref)
		}
	}
	slices.Sort(want) // byte order of Go strings

	for _, limit := range []int{1, 3, 7, len(want), len(want) + 5} {
		var got []string
		after := ""
		for page := 0; ; page++ {
			if page > len(want)+1 {
				t.Fatalf("limit %d: List never returned an empty page", limit)
			}
			list, err := s.List(ctx, after, limit)
			if err != nil {
				t.Fatalf("List(%q, %d): %v", after, limit, err)
			}
			if len(list) > limit {
				t.Fatalf("List(%q, %d) returned %d keysets", after, limit, len(list))
			}
			if len(list) == 0 {
				break
			}
			for _, k := range list {
				sameContent(t, fmt.Sprintf("List entry %q", k.Ref), k, Keyset(k.Ref, seed[k.Ref]))
				if k.Version != 1 || k.Created.IsZero() {
					t.Errorf("List entry %q: Version %d, Created %v", k.Ref, k.Version, k.Created)
				}
				got = append(got, k.Ref)
			}
			after = list[len(list)-1].Ref
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: paging List returned\n%q\nwant (byte order of Ref)\n%q", limit, got, want)
		}
	}

	// after need not be a stored reference.
	list, err := s.List(ctx, "subject-1!", 2)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := refsOf(list); !slices.Equal(got, []string{"subject-10", "subject-2"}) {
		t.Errorf("List(%q, 2) = %q, want [subject-10 subject-2]", "subject-1!", got)
	}
	list, err = s.List(ctx, "~", 5)
	if err != nil || len(list) != 0 {
		t.Errorf("List after the last ref = %q, %v; want nothing", refsOf(list), err)
	}
}

func refsOf(list []phi.WrappedKeyset) []string {
	out := make([]string, len(list))
	for i, k := range list {
		out[i] = k.Ref
	}
	return out
}

func testContextCanceled(t *testing.T, ctx context.Context, s phi.KeyStore) {
	mustCreate(t, ctx, s, Keyset("stored", 1))
	cctx, cancel := context.WithCancel(ctx)
	cancel()

	err := s.Create(cctx, Keyset("fresh", 2))
	wantErr(t, "Create with a cancelled context", err, context.Canceled)
	_, err = s.Get(ctx, "fresh")
	wantErr(t, "Get after a cancelled Create", err, phi.ErrKeyNotFound)

	_, err = s.Get(cctx, "stored")
	wantErr(t, "Get with a cancelled context", err, context.Canceled)

	err = s.Update(cctx, Keyset("stored", 3), 1)
	wantErr(t, "Update with a cancelled context", err, context.Canceled)
	if got := mustGet(t, ctx, s, "stored"); got.Version != 1 {
		t.Errorf("a cancelled Update changed Version to %d", got.Version)
	}

	_, err = s.Shred(cctx, "stored")
	wantErr(t, "Shred with a cancelled context", err, context.Canceled)
	sameContent(t, "Get after a cancelled Shred", mustGet(t, ctx, s, "stored"), Keyset("stored", 1))

	_, err = s.List(cctx, "", 10)
	wantErr(t, "List with a cancelled context", err, context.Canceled)
}
