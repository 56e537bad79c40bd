package backup

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// TestCorruptVerifiedRecord: one garbage "verified/<id>" (a torn upload)
// leaves List, Latest, Prune and Drill working; that backup is listed as not
// verified with the problem named, and a new verification repairs it.
func TestCorruptVerifiedRecord(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	m1, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "records"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "records"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{m1.ID, m2.ID} {
		if _, err := f.repo.Verify(f.ctx, id, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.target.Put(f.ctx, verifiedObject(m1.ID), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	all, err := f.repo.List(f.ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("List = %v, %v", all, err)
	}
	if all[0].ID != m1.ID || !all[0].Verified.IsZero() || !strings.Contains(all[0].VerifiedProblem, verifiedObject(m1.ID)) {
		t.Fatalf("corrupt record: %+v", all[0])
	}
	if all[1].Verified.IsZero() || all[1].VerifiedProblem != "" {
		t.Fatalf("intact record: %+v", all[1])
	}
	if _, err := f.repo.Latest(f.ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.repo.Prune(f.ctx, PruneOptions{DryRun: true, Policy: Policy{KeepLast: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.repo.Drill(f.ctx, DrillOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.repo.Verify(f.ctx, m1.ID, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if all, err = f.repo.List(f.ctx); err != nil || all[0].Verified.IsZero() || all[0].VerifiedProblem != "" {
		t.Fatalf("after a new verification: %+v, %v", all, err)
	}

	// A target that cannot read the record still fails the listing: the
	// record may be intact.
	r, err := Open(f.ctx, failingOpen{f.target, verifiedPrefix}, f.kek, Config{Audit: f.audit, Actor: audit.Actor{UserID: "backup-operator"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.List(f.ctx); !errors.Is(err, errOpen) {
		t.Fatalf("List with an unreadable record: %v", err)
	}
}

var errOpen = errors.New("injected open failure")

// failingOpen fails Open of every name under prefix.
type failingOpen struct {
	Target
	prefix string
}

func (t failingOpen) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if strings.HasPrefix(name, t.prefix) {
		return nil, errOpen
	}
	return t.Target.Open(ctx, name)
}

// TestVerifyAllReadsSharedChunksOnce: VerifyAll of two backups that share
// their chunks reads each chunk once (the second backup's chunks are all
// known) yet reports both backups in full and writes both records; a
// corrupt shared chunk is read again and reported for each backup.
func TestVerifyAllReadsSharedChunksOnce(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	m1, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	var opens atomic.Int64
	counting := &openCounter{Target: f.target, opens: &opens}
	r := f.reopen(Config{})
	r.target = counting
	reps, errs := r.VerifyAll(f.ctx, []string{m1.ID, m2.ID}, VerifyOptions{})
	if errs[0] != nil || errs[1] != nil || !reps[0].Full || reps[1].Checked != reps[1].Chunks || reps[1].Bytes != reps[0].Bytes {
		t.Fatalf("VerifyAll: %+v %v", reps, errs)
	}
	if int(opens.Load()) != reps[0].Chunks {
		t.Fatalf("VerifyAll read %d chunk objects for %d distinct chunks", opens.Load(), reps[0].Chunks)
	}
	list, err := f.repo.List(f.ctx)
	if err != nil || len(list) != 2 || list[0].Verified.IsZero() || list[1].Verified.IsZero() {
		t.Fatalf("not recorded as verified: %+v %v", list, err)
	}
	chunks, _ := filepath.Glob(filepath.Join(f.target.root, "chunks", "*", "*"))
	os.WriteFile(chunks[0], []byte("bad"), 0o600)
	_, errs = r.VerifyAll(f.ctx, []string{m1.ID, m2.ID}, VerifyOptions{})
	if !errors.Is(errs[0], ErrVerifyFailed) || !errors.Is(errs[1], ErrVerifyFailed) {
		t.Fatalf("corrupt shared chunk: %v", errs)
	}
}

// openCounter counts the chunk objects opened.
type openCounter struct {
	Target
	opens *atomic.Int64
}

func (o *openCounter) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if strings.HasPrefix(name, "chunks/") {
		o.opens.Add(1)
	}
	return o.Target.Open(ctx, name)
}
