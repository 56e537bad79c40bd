package backup

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
)

func info(id string, t time.Time, verified bool) Info {
	i := Info{ID: id, Source: SourceInfo{Kind: "dir"}, Finished: t}
	if verified {
		i.Verified = t
	}
	return i
}

func kept(ds []Decision) map[string][]string {
	out := map[string][]string{}
	for _, d := range ds {
		if d.Keep {
			out[d.Info.ID] = d.Reasons
		}
	}
	return out
}

func TestPlanPrune(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	var backups []Info
	// Two backups a day for 70 days; ids "dNN-a"/"dNN-b".
	for d := 0; d < 70; d++ {
		backups = append(backups, info(fmt2("d", d, "a"), day(d), false), info(fmt2("d", d, "b"), day(d).Add(time.Hour), false))
	}
	backups[10].Verified = day(5) // an old backup verified once
	ds := PlanPrune(backups, Policy{KeepLast: 1, KeepDaily: 3, KeepWeekly: 2, KeepMonthly: 2}, map[string]string{"d02-a": "hold-1"})
	k := kept(ds)
	want := map[string]bool{
		"d69-b": true, // last, daily
		"d68-b": true, // daily
		"d67-b": true, // daily
		"d66-b": true, // weekly: 2026-03-08 is the Sunday of the ISO week before 03-09..03-11
		"d58-b": true, // monthly: last of February
		"d05-a": true, // the newest verified backup
		"d02-a": true, // legal hold
	}
	// d69-b is also the weekly and monthly keep of its week and month.
	for id := range want {
		if _, ok := k[id]; !ok {
			t.Errorf("%s pruned, want kept", id)
		}
	}
	for id, reasons := range k {
		if !want[id] {
			t.Errorf("%s kept for %v, want pruned", id, reasons)
		}
	}
	if r := k["d02-a"]; len(r) != 1 || r[0] != "legal hold hold-1" {
		t.Errorf("held backup reasons %v", r)
	}
	// A zero policy keeps everything.
	if n := len(kept(PlanPrune(backups, Policy{}, nil))); n != len(backups) {
		t.Fatalf("zero policy kept %d of %d", n, len(backups))
	}
	// Policies apply per source.
	two := []Info{info("x", day(1), false), {ID: "y", Source: SourceInfo{Kind: "keystore"}, Finished: day(0)}}
	if n := len(kept(PlanPrune(two, Policy{KeepLast: 1}, nil))); n != 2 {
		t.Fatalf("KeepLast 1 over two sources kept %d, want 2", n)
	}
}

func fmt2(p string, n int, s string) string {
	return p + string(rune('0'+n/10)) + string(rune('0'+n%10)) + "-" + s
}

func TestPruneDeletesAndCollects(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, Config{Clock: clk})
	src := t.TempDir()
	var ids []string
	for i := 0; i < 4; i++ {
		os.WriteFile(filepath.Join(src, "f"), []byte{byte(i), 1, 2, 3}, 0o600)
		m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
		clk.Advance(24 * time.Hour)
	}
	// The first backup passes verification; it must survive KeepLast 1.
	if _, err := f.repo.Verify(f.ctx, ids[0], VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	dry, err := f.repo.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}, DryRun: true})
	if err != nil || len(dry.Removed) != 2 || dry.ChunksDeleted != 0 {
		t.Fatalf("dry run %+v, %v", dry, err)
	}
	if l, _ := f.repo.List(f.ctx); len(l) != 4 {
		t.Fatal("dry run deleted backups")
	}
	rep, err := f.repo.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 2 || rep.ChunksDeleted != 2 || rep.GCDeferred {
		t.Fatalf("prune %+v", rep)
	}
	l, _ := f.repo.List(f.ctx)
	if len(l) != 2 || l[0].ID != ids[0] || l[1].ID != ids[3] {
		t.Fatalf("after prune: %+v", l)
	}
	for _, id := range []string{ids[0], ids[3]} {
		if _, err := f.repo.Verify(f.ctx, id, VerifyOptions{}); err != nil {
			t.Fatalf("kept backup broken by GC: %v", err)
		}
	}
}

func TestPruneRespectsLegalHolds(t *testing.T) {
	holdAll := HoldsFunc(func(context.Context, Info) (bool, string, error) { return true, "hold-7", nil })
	f := newFixtureWith(t, Config{LegalHolds: holdAll})
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o600)
	for i := 0; i < 3; i++ {
		if _, err := f.repo.Backup(f.ctx, DirSource{Root: src}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := f.repo.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}})
	if err != nil || len(rep.Removed) != 0 {
		t.Fatalf("prune under hold removed %v (%v)", rep.Removed, err)
	}
	broken := HoldsFunc(func(context.Context, Info) (bool, string, error) { return false, "", errors.New("hold store down") })
	r := f.reopen(Config{LegalHolds: broken})
	if _, err := r.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}}); err == nil {
		t.Fatal("prune with unreadable holds succeeded")
	}
	if l, _ := f.repo.List(f.ctx); len(l) != 3 {
		t.Fatal("prune with unreadable holds deleted backups")
	}
}

// TestGCWhileBackupRuns: a running backup's lock defers chunk deletion; a
// running GC's lock makes a backup wait; stale locks are ignored.
func TestGCWhileBackupRuns(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, Config{Clock: clk})
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("one"), 0o600)
	m1, _ := f.repo.Backup(f.ctx, DirSource{Root: src})
	os.WriteFile(filepath.Join(src, "f"), []byte("two"), 0o600)
	m2, _ := f.repo.Backup(f.ctx, DirSource{Root: src})
	_ = m2
	// Remove the first backup's manifest by hand: its chunk is garbage.
	f.target.Delete(f.ctx, manifestObject(m1.ID))

	// A backup is "running".
	if err := f.repo.writeLock(f.ctx, backupLockPrefix+"running"); err != nil {
		t.Fatal(err)
	}
	rep, err := f.repo.Prune(f.ctx, PruneOptions{})
	if err != nil || !rep.GCDeferred || rep.ChunksDeleted != 0 || rep.ChunksUnused != 1 {
		t.Fatalf("GC beside a running backup: %+v, %v", rep, err)
	}
	// The backup crashed: an hour later its lock is stale and GC proceeds.
	clk.Advance(DefaultLockStaleAfter + time.Minute)
	rep, err = f.repo.Prune(f.ctx, PruneOptions{})
	if err != nil || rep.GCDeferred || rep.ChunksDeleted != 1 || rep.StaleLocksSeen != 1 {
		t.Fatalf("GC after the lock went stale: %+v, %v", rep, err)
	}
	if _, err := f.target.Stat(f.ctx, backupLockPrefix+"running"); !errors.Is(err, ErrNotFound) {
		t.Fatal("stale lock not removed")
	}

	// A GC is "running": a backup waits, then gives up with ErrBusy.
	if err := f.repo.writeLock(f.ctx, gcLockPrefix+"running"); err != nil {
		t.Fatal(err)
	}
	r := f.reopen(Config{Clock: clk, LockStaleAfter: DefaultLockStaleAfter, LockWait: -1})
	if _, err := r.Backup(f.ctx, DirSource{Root: src}); !errors.Is(err, ErrBusy) {
		t.Fatalf("backup during GC: %v, want ErrBusy", err)
	}
	// The waiting backup removed its own lock.
	n := 0
	f.target.List(f.ctx, backupLockPrefix, func(ObjectInfo) error { n++; return nil })
	if n != 0 {
		t.Fatal("a backup that gave up left its lock")
	}
	// Once the GC lock is released the backup proceeds.
	f.target.Delete(f.ctx, gcLockPrefix+"running")
	if _, err := r.Backup(f.ctx, DirSource{Root: src}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifySubsetReproducible(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	refs := distinctChunks(m)
	a := selectChunks(refs, VerifyOptions{Fraction: 0.5, Seed: 42})
	b := selectChunks(refs, VerifyOptions{Fraction: 0.5, Seed: 42})
	c := selectChunks(refs, VerifyOptions{Fraction: 0.5, Seed: 43})
	if len(a) != (len(refs)+1)/2 || !slices.Equal(a, b) {
		t.Fatalf("seeded subset not reproducible: %d of %d", len(a), len(refs))
	}
	_ = c
	budget := selectChunks(refs, VerifyOptions{ByteBudget: MinChunkSize, Seed: 1})
	var got int64
	for _, r := range budget[:len(budget)-1] {
		got += r.Size
	}
	if got >= MinChunkSize {
		t.Fatalf("byte budget overrun before the last chunk: %d", got)
	}
	rep, err := f.repo.Verify(f.ctx, m.ID, VerifyOptions{Fraction: 0.5, Seed: 42})
	if err != nil || rep.Full || rep.Checked != len(a) {
		t.Fatalf("subset verify %+v, %v", rep, err)
	}
	if l, _ := f.repo.List(f.ctx); !l[0].Verified.IsZero() {
		t.Fatal("a subset verification was recorded as a full one")
	}
	// A subset that includes a corrupt chunk reports it.
	n, _ := decodeChunkName(a[0].Name)
	os.WriteFile(filepath.Join(f.target.Root(), filepath.FromSlash(chunkObject(n))), []byte("junk"), 0o600)
	if _, err := f.repo.Verify(f.ctx, m.ID, VerifyOptions{Fraction: 0.5, Seed: 42}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("subset verify over a corrupt chunk: %v", err)
	}
}

func TestProgressReportsBytesRateETA(t *testing.T) {
	var got []Progress
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	m := newMeter(func(p Progress) { got = append(got, p) }, clk, "backup", 1000)
	m.add(100) // within the interval: no report
	clk.Advance(time.Second)
	m.add(100)
	clk.Advance(time.Second)
	m.done()
	if len(got) != 2 {
		t.Fatalf("reports %+v", got)
	}
	p := got[0]
	if p.Bytes != 200 || p.Rate != 200 || p.ETA != 4*time.Second || p.Done {
		t.Fatalf("first report %+v", p)
	}
	if !got[1].Done || got[1].ETA != 0 || got[1].Bytes != 200 {
		t.Fatalf("final report %+v", got[1])
	}
	// Through a real backup: monotone bytes ending at the total.
	var seen []Progress
	f := newFixtureWith(t, Config{Progress: func(p Progress) { seen = append(seen, p) }})
	src := t.TempDir()
	writeTree(t, src)
	bm, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	last := seen[len(seen)-1]
	if !last.Done || last.Bytes != bm.Totals.Bytes || last.Total != bm.Totals.Bytes || last.Op != "backup" {
		t.Fatalf("last progress %+v, totals %+v", last, bm.Totals)
	}
}

func TestDrill(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, Config{Clock: clk})
	src := t.TempDir()
	writeTree(t, src)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * time.Hour)
	rep, err := f.repo.Drill(f.ctx, DrillOptions{ScratchDir: t.TempDir()})
	if err != nil || !rep.Pass || rep.ID != m.ID || rep.RPO != 3*time.Hour || rep.Entries != m.Totals.Entries {
		t.Fatalf("drill %+v, %v", rep, err)
	}
	e := f.audit.Last()
	if e.Action != "restore_drill" || e.Outcome != "success" || e.Attrs["pass"] != "true" || e.Attrs["rpo_s"] != "10800" {
		t.Fatalf("drill event %+v", e)
	}
	if l, _ := f.repo.List(f.ctx); l[0].Verified.IsZero() {
		t.Fatal("a passed drill was not recorded as a verification")
	}
	// A drill whose restored data differs fails: a sink that alters a file.
	scratch := t.TempDir()
	sink := &tamperingSink{DirSink: NewDirSink(filepath.Join(scratch, "r"))}
	rep, err = f.repo.Drill(f.ctx, DrillOptions{Sink: sink})
	if !errors.Is(err, ErrDrillFailed) || rep.Pass || len(rep.Mismatches) == 0 {
		t.Fatalf("drill over altered data: %+v, %v", rep, err)
	}
	if e := f.audit.Last(); e.Outcome != "failure" || e.Attrs["pass"] != "false" {
		t.Fatalf("failed drill event %+v", e)
	}
}

// tamperingSink changes one restored file after Commit.
type tamperingSink struct{ *DirSink }

func (s *tamperingSink) Commit(ctx context.Context) error {
	if err := s.DirSink.Commit(ctx); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dest, "one"), []byte("y"), 0o640)
}

// TestPruneConcurrentWithBackups runs backups and prunes at the same time
// from two repository handles (as two processes would): every backup that
// completes stays restorable.
func TestPruneConcurrentWithBackups(t *testing.T) {
	f := newFixture(t)
	backuper := f.reopen(Config{LockStaleAfter: DefaultLockStaleAfter, LockWait: time.Minute})
	pruner := f.reopen(Config{})
	backuper.s.pollEvery, pruner.s.pollEvery = 5*time.Millisecond, 5*time.Millisecond
	src := t.TempDir()
	writeTree(t, src)
	done := make(chan struct{})
	var completed []string
	var backupErr error
	go func() {
		defer close(done)
		for i := 0; i < 12; i++ {
			b := make([]byte, 2*MinChunkSize)
			rand.Read(b)
			os.WriteFile(filepath.Join(src, "changing"), b, 0o600)
			m, err := backuper.Backup(f.ctx, DirSource{Root: src})
			if err != nil {
				backupErr = err
				return
			}
			completed = append(completed, m.ID)
		}
	}()
	prunes, deleted, deferred := 0, 0, 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		rep, err := pruner.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 3}})
		if err != nil {
			t.Fatal(err)
		}
		prunes++
		deleted += rep.ChunksDeleted
		if rep.GCDeferred {
			deferred++
		}
	}
	if backupErr != nil {
		t.Fatal(backupErr)
	}
	list, err := f.repo.List(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range list {
		if _, err := f.repo.Verify(f.ctx, b.ID, VerifyOptions{}); err != nil {
			t.Fatalf("backup %s broken by a concurrent prune: %v", b.ID, err)
		}
	}
	if list[len(list)-1].ID != completed[len(completed)-1] {
		t.Fatal("the newest backup was pruned")
	}
	t.Logf("%d prunes (%d deferred), %d chunks deleted, %d backups kept", prunes, deferred, deleted, len(list))
}

func TestPruneRemovesOrphanVerificationRecords(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o600)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.repo.Verify(f.ctx, m.ID, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	f.target.Delete(f.ctx, manifestObject(m.ID)) // as if a prune stopped half-way
	if _, err := f.repo.Prune(f.ctx, PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.target.Stat(f.ctx, verifiedObject(m.ID)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("orphan verification record kept: %v", err)
	}
}
