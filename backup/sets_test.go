package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// TestBackupSet: one call backs up a directory and a key store as a set;
// the set lists, restores and drills as one unit; a failed member writes
// no set; pruning a member removes its set; a missing member hides it.
func TestBackupSet(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	store := memstore.New(memstore.Config{})
	for _, k := range goldenKeysets {
		if err := store.Create(f.ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	cfg := SetConfig{Name: "deployment", Sources: []Source{DirSource{Root: src, Name: "files"}, KeyStoreSource{Store: store, Name: "keys"}}}
	s1, err := f.repo.BackupSet(f.ctx, cfg)
	if err != nil || len(s1.Members) != 2 || s1.Members[1].Source.Kind != "keystore" {
		t.Fatalf("BackupSet: %+v, %v", s1, err)
	}
	sets, err := f.repo.ListSets(f.ctx)
	if err != nil || len(sets) != 1 || sets[0].ID != s1.ID || sets[0].Name != "deployment" {
		t.Fatalf("ListSets: %+v, %v", sets, err)
	}
	list, _ := f.repo.List(f.ctx)
	if len(list) != 2 || list[0].Set != s1.ID || list[1].Set != s1.ID {
		t.Fatalf("members listed %+v", list)
	}
	dest := filepath.Join(t.TempDir(), "out")
	restored := memstore.New(memstore.Config{})
	reps, err := f.repo.RestoreSet(f.ctx, s1.ID, func(m SetMember) (Sink, error) {
		if m.Source.Kind == "keystore" {
			return NewKeyStoreSink(restored, noLedger{})
		}
		return NewDirSink(dest), nil
	}, RestoreOptions{})
	if err != nil || len(reps) != 2 {
		t.Fatalf("RestoreSet: %+v, %v", reps, err)
	}
	if treeDigest(t, dest) != treeDigest(t, src) {
		t.Fatal("set restored other files")
	}
	if _, err := restored.Get(f.ctx, goldenKeysets[1].Ref); err != nil {
		t.Fatalf("set restored no key store: %v", err)
	}
	drills, err := f.repo.DrillSet(f.ctx, s1.ID, func(SetMember) DrillOptions {
		return DrillOptions{ScratchDir: t.TempDir(), Ledger: noLedger{}}
	})
	if err != nil || len(drills) != 2 || !drills[0].Pass || !drills[1].Pass {
		t.Fatalf("DrillSet: %+v, %v", drills, err)
	}

	// A member that fails: no set.
	bad := SetConfig{Name: "deployment", Sources: []Source{KeyStoreSource{Store: store, Name: "keys"}, DirSource{Root: filepath.Join(src, "missing")}}}
	if _, err := f.repo.BackupSet(f.ctx, bad); err == nil {
		t.Fatal("a set with a failing member was written")
	}
	if sets, _ := f.repo.ListSets(f.ctx); len(sets) != 1 {
		t.Fatalf("sets after a failed set: %d", len(sets))
	}

	s2, err := f.repo.BackupSet(f.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range s2.Members { // so that s2, not s1, is the newest verified
		if _, err := f.repo.Verify(f.ctx, m.ID, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.repo.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}}); err != nil {
		t.Fatal(err)
	}
	sets, err = f.repo.ListSets(f.ctx)
	if err != nil || len(sets) != 1 || sets[0].ID != s2.ID {
		t.Fatalf("sets after prune: %+v, %v", sets, err)
	}
	if _, err := f.repo.Set(f.ctx, s1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned set: %v, want ErrNotFound", err)
	}
	os.Remove(filepath.Join(f.target.root, filepath.FromSlash(manifestObject(s2.Members[0].ID))))
	if _, err := f.repo.Set(f.ctx, s2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("set with a missing member: %v, want ErrNotFound", err)
	}
	if sets, _ := f.repo.ListSets(f.ctx); len(sets) != 0 {
		t.Fatalf("a set with a missing member listed: %+v", sets)
	}
}

func FuzzDecodeSet(f *testing.F) {
	f.Add([]byte(`{"version":1,"id":"00112233445566778899aabbccddeeff","name":"deployment","started":"2026-01-02T03:04:05Z","finished":"2026-01-02T03:04:06Z","members":[{"id":"ffeeddccbbaa99887766554433221100","source":{"kind":"keystore","name":"keys"}}]}`))
	f.Add([]byte(`{"version":1,"id":"00112233445566778899aabbccddeeff","name":"deployment","started":"2026-01-02T03:04:05Z","finished":"2026-01-02T03:04:06Z","members":[{"id":"ffeeddccbbaa99887766554433221100","source":{"kind":"keystore","name":"keys"},"covers":["keys","signing-keys"]}],"cut":"postgres-snapshot+ordered"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := DecodeSet(b); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// TestSetPartsCutAndSetDrill: a set of parts records what each member
// covers; the cut is held while every member is read and released after
// the last (also when a member fails, with no set written); a set drill
// records one event for the set naming the parts of the members that
// passed, and a failed member leaves its part out of that list.
func TestSetPartsCutAndSetDrill(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	store := memstore.New(memstore.Config{})
	if err := store.Create(f.ctx, goldenKeysets[0]); err != nil {
		t.Fatal(err)
	}
	held, releases := false, 0
	var readUnderCut []bool
	probe := probeSource{Source: DirSource{Root: src, Name: "files"}, saw: func() { readUnderCut = append(readUnderCut, held) }}
	cfg := SetConfig{Name: "deployment", CutName: "test-cut",
		Cut: func(context.Context) (func() error, error) {
			held = true
			return func() error { held = false; releases++; return nil }, nil
		},
		Parts: []SetPart{{Source: probe, Covers: []string{"records"}},
			{Source: KeyStoreSource{Store: store, Name: "keys"}, Covers: []string{"keys"}},
			{Source: probeSource{Source: DirSource{Root: src, Name: "state"}, saw: func() { readUnderCut = append(readUnderCut, held) }}, Covers: []string{"users", "holds"}}}}
	s, err := f.repo.BackupSet(f.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if releases != 1 || held || !slices.Equal(readUnderCut, []bool{true, true}) || s.Cut != "test-cut" {
		t.Fatalf("cut: releases %d, held %v, members read under it %v, set cut %q", releases, held, readUnderCut, s.Cut)
	}
	got, err := f.repo.Set(f.ctx, s.ID)
	if err != nil || !slices.Equal(got.Covered(), []string{"holds", "keys", "records", "users"}) || got.Cut != "test-cut" {
		t.Fatalf("stored set: %+v, %v", got, err)
	}

	// A failing member: the cut is still released, no set is written.
	bad := cfg
	bad.Parts = append(slices.Clone(cfg.Parts), SetPart{Source: DirSource{Root: filepath.Join(src, "missing")}})
	if _, err := f.repo.BackupSet(f.ctx, bad); err == nil || releases != 2 || held {
		t.Fatalf("failed set: %v, releases %d, held %v", err, releases, held)
	}
	// A cut that cannot be held reads nothing.
	readUnderCut = nil
	bad.Cut = func(context.Context) (func() error, error) { return nil, errors.New("locked") }
	if _, err := f.repo.BackupSet(f.ctx, bad); err == nil || len(readUnderCut) != 0 {
		t.Fatalf("set without its cut: %v, members read %d", err, len(readUnderCut))
	}
	for _, c := range []string{"", "has space", strings.Repeat("x", 65), "ümlaut"} {
		if _, err := f.repo.BackupSet(f.ctx, SetConfig{Parts: []SetPart{{Source: probe, Covers: []string{c}}}}); err == nil {
			t.Fatalf("cover %q accepted", c)
		}
	}

	setEvent := func() audit.Event {
		t.Helper()
		evs := f.audit.Events()
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Action == audit.ActionRestoreDrill && evs[i].Attrs["scope"] == "set" {
				return evs[i]
			}
		}
		t.Fatal("no set drill event")
		return audit.Event{}
	}
	reps, err := f.repo.DrillSet(f.ctx, s.ID, func(SetMember) DrillOptions {
		return DrillOptions{ScratchDir: t.TempDir(), Ledger: noLedger{}}
	})
	if err != nil || len(reps) != 3 {
		t.Fatalf("DrillSet: %d reports, %v", len(reps), err)
	}
	e := setEvent()
	if e.Outcome != audit.OutcomeSuccess || e.Attrs["covers"] != "holds,keys,records,users" || e.Attrs["set"] != s.ID ||
		e.Attrs["failed"] != "0" || e.Attrs["members"] != "3" || e.Attrs["repository"] != f.repo.ID() {
		t.Fatalf("set drill event %+v", e)
	}
	// The key store member fails its drill (no ledger): its part is not
	// covered and the set drill fails.
	_, err = f.repo.DrillSet(f.ctx, s.ID, func(SetMember) DrillOptions { return DrillOptions{ScratchDir: t.TempDir()} })
	e = setEvent()
	if err == nil || e.Outcome != audit.OutcomeFailure || e.Attrs["covers"] != "holds,records,users" || e.Attrs["failed"] != "1" {
		t.Fatalf("failed set drill: %v, event %+v", err, e)
	}
}

// probeSource calls saw when its Walk starts.
type probeSource struct {
	Source
	saw func()
}

func (p probeSource) Walk(ctx context.Context, emit func(Item) error) error {
	p.saw()
	return p.Source.Walk(ctx, emit)
}

// TestCopySet: a set copied to a second repository lists there with the
// same ID, members and covered parts, its members still name it, and it
// drills there as a unit; copying it again uploads nothing and verifies
// every member again.
func TestCopySet(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	store := memstore.New(memstore.Config{})
	if err := store.Create(f.ctx, goldenKeysets[0]); err != nil {
		t.Fatal(err)
	}
	s, err := f.repo.BackupSet(f.ctx, SetConfig{Name: "deployment", CutName: "ordered", Parts: []SetPart{
		{Source: DirSource{Root: src, Name: "files"}, Covers: []string{"records"}},
		{Source: KeyStoreSource{Store: store, Name: "keys"}, Covers: []string{"keys"}}}})
	if err != nil {
		t.Fatal(err)
	}
	g := newFixture(t)
	got, reps, err := CopySet(f.ctx, f.repo, g.repo, s.ID)
	if err != nil || got.ID != s.ID || len(reps) != 2 || !reps[0].Copied || !reps[1].Copied {
		t.Fatalf("CopySet: %+v %+v %v", got, reps, err)
	}
	sets, err := g.repo.ListSets(g.ctx)
	if err != nil || len(sets) != 1 || sets[0].ID != s.ID || !slices.Equal(sets[0].Covered(), []string{"keys", "records"}) || sets[0].Cut != "ordered" ||
		sets[0].Members[0].ID != s.Members[0].ID || !sets[0].Finished.Equal(s.Finished) {
		t.Fatalf("sets at the destination: %+v, %v", sets, err)
	}
	drills, err := g.repo.DrillSet(g.ctx, s.ID, func(SetMember) DrillOptions {
		return DrillOptions{ScratchDir: t.TempDir(), Ledger: noLedger{}}
	})
	if err != nil || len(drills) != 2 || !drills[0].Pass || !drills[1].Pass {
		t.Fatalf("drill of the copy: %+v, %v", drills, err)
	}
	_, reps, err = CopySet(f.ctx, f.repo, g.repo, s.ID)
	if err != nil || len(reps) != 2 || reps[0].Copied || reps[1].Copied || !reps[0].Verify.Full || !reps[1].Verify.Full {
		t.Fatalf("second CopySet: %+v, %v", reps, err)
	}
	if _, _, err := CopySet(f.ctx, f.repo, g.repo, "00112233445566778899aabbccddeeff"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CopySet of no set: %v", err)
	}
}
