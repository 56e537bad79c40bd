package backup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

func TestBackupVerifyRestoreRoundTrip(t *testing.T) {
	f := newFixture(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "records"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.Entries != 8 { // 6 files, 2 directories (see writeTree)
		t.Fatalf("entries: %d, want 8", m.Totals.Entries)
	}
	// big.bin and sub/dup.bin share their chunks; "exact" is one full chunk.
	if m.Totals.NewChunks >= m.Totals.Chunks {
		t.Fatalf("no deduplication: %d new of %d chunks", m.Totals.NewChunks, m.Totals.Chunks)
	}
	list, err := f.repo.List(f.ctx)
	if err != nil || len(list) != 1 || list[0].ID != m.ID || list[0].Source.Name != "records" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	rep, err := f.repo.Verify(f.ctx, m.ID, VerifyOptions{})
	if err != nil || !rep.Full || rep.Checked != rep.Chunks || rep.Checked == 0 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	list, _ = f.repo.List(f.ctx)
	if list[0].Verified.IsZero() {
		t.Fatal("a full verification was not recorded")
	}
	dest := filepath.Join(t.TempDir(), "restored")
	rr, err := f.repo.Restore(f.ctx, m.ID, NewDirSink(dest), RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Bytes != m.Totals.Bytes || rr.Entries != m.Totals.Entries {
		t.Fatalf("restore report %+v, manifest totals %+v", rr, m.Totals)
	}
	if got, want := treeDigest(t, dest), treeDigest(t, src); got != want {
		t.Fatalf("restored tree differs:\n%s\nwant\n%s", got, want)
	}
	want := []audit.Action{audit.ActionBackup, audit.ActionBackup, audit.ActionRestore}
	if got := f.audit.Actions(); !slices.Equal(got, want) {
		t.Fatalf("audit actions %v, want %v", got, want)
	}
	if e := f.audit.Last(); e.Outcome != audit.OutcomeSuccess || e.Target.RecordID != m.ID || e.Actor.UserID != "backup-operator" {
		t.Fatalf("restore event %+v", e)
	}
}

func TestSecondBackupDeduplicates(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	m1, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "one"), []byte("changed"), 0o640); err != nil {
		t.Fatal(err)
	}
	m2, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Totals.NewChunks != 1 || m2.Totals.NewBytes != int64(len("changed")) {
		t.Fatalf("second backup stored %d new chunks (%d bytes), want 1 (7)", m2.Totals.NewChunks, m2.Totals.NewBytes)
	}
	if m1.ID == m2.ID {
		t.Fatal("backup IDs repeat")
	}
}

func TestRestoreRefusesOverwriteUnlessForced(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	os.Mkdir(dest, 0o700)
	os.WriteFile(filepath.Join(dest, "keep.txt"), []byte("live data"), 0o600)
	_, err = f.repo.Restore(f.ctx, m.ID, NewDirSink(dest), RestoreOptions{})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("restore over data: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "keep.txt")); string(b) != "live data" {
		t.Fatal("refused restore touched the destination")
	}
	assertNoStaging(t, filepath.Dir(dest))
	if _, err := f.repo.Restore(f.ctx, m.ID, NewDirSink(dest), RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := treeDigest(t, dest), treeDigest(t, src); got != want {
		t.Fatalf("forced restore differs:\n%s\nwant\n%s", got, want)
	}
	assertNoStaging(t, filepath.Dir(dest))
	// An empty existing directory is not "data": no force needed.
	empty := filepath.Join(t.TempDir(), "empty")
	os.Mkdir(empty, 0o700)
	if _, err := f.repo.Restore(f.ctx, m.ID, NewDirSink(empty), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
}

// assertNoStaging fails if a staging directory was left in dir.
func assertNoStaging(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if len(e.Name()) > 0 && e.Name()[0] == '.' {
			t.Fatalf("staging left behind: %s", e.Name())
		}
	}
}

func TestWrongKEK(t *testing.T) {
	f := newFixture(t)
	_, err := Open(f.ctx, f.target, testKEK(t, 2), Config{Audit: audit.Discard{}, Actor: audit.Actor{}})
	var oe *ObjectError
	if !errors.Is(err, ErrWrongKey) || !errors.As(err, &oe) || oe.Object != "config" {
		t.Fatalf("Open with another KEK: %v, want ErrWrongKey naming config", err)
	}
}

func TestInitTwiceAndMissingRepository(t *testing.T) {
	f := newFixture(t)
	if _, err := Init(f.ctx, f.target, f.kek, Config{Audit: audit.Discard{}, Actor: audit.Actor{}}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Init: %v, want ErrExists", err)
	}
	empty, _ := NewDirTarget(t.TempDir())
	if _, err := Open(f.ctx, empty, f.kek, Config{Audit: audit.Discard{}, Actor: audit.Actor{}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of an empty target: %v, want ErrNotFound", err)
	}
	if _, err := Open(f.ctx, f.target, f.kek, Config{}); err == nil {
		t.Fatal("Open without an audit writer succeeded")
	}
}

func TestAuditFailureFailsTheOperation(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	f.audit.FailWith(errors.New("disk full"))
	if _, err := f.repo.Backup(f.ctx, DirSource{Root: src}); !errors.Is(err, ErrAudit) {
		t.Fatalf("backup with a failing audit writer: %v, want ErrAudit", err)
	}
}

func TestRewrapAfterKEKRotation(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	newKEK := testKEK(t, 3)
	if err := f.repo.Rewrap(f.ctx, testKEK(t, 9), newKEK); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Rewrap with a wrong old KEK: %v", err)
	}
	if err := f.repo.Rewrap(f.ctx, f.kek, newKEK); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f.ctx, f.target, f.kek, Config{Audit: audit.Discard{}, Actor: audit.Actor{}}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old KEK after rewrap: %v", err)
	}
	r, err := Open(f.ctx, f.target, newKEK, Config{Audit: audit.Discard{}, Actor: audit.Actor{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Verify(f.ctx, m.ID, VerifyOptions{}); err != nil {
		t.Fatalf("backup after rewrap: %v", err)
	}
	if r.KEKID() != newKEK.ID() {
		t.Fatalf("KEKID after rewrap: %q, want %q", r.KEKID(), newKEK.ID())
	}
}

// TestRewrapAuditedAndIdempotent: a rewrap records one key_rotated event
// naming both KEKs, a failed one a failure event; a second rewrap to the
// same KEK (a resumed migration) changes nothing and records nothing.
func TestRewrapAuditedAndIdempotent(t *testing.T) {
	f := newFixture(t)
	newKEK := testKEK(t, 3)
	oldID := f.kek.ID()
	if err := f.repo.Rewrap(f.ctx, testKEK(t, 9), newKEK); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Rewrap with a wrong old KEK: %v", err)
	}
	e := f.audit.Last()
	if e.Action != audit.ActionKeyRotated || e.Outcome != audit.OutcomeFailure || e.Reason != "rewrap" {
		t.Fatalf("failed rewrap audited as %+v", e)
	}
	if err := f.repo.Rewrap(f.ctx, f.kek, newKEK); err != nil {
		t.Fatal(err)
	}
	e = f.audit.Last()
	if e.Action != audit.ActionKeyRotated || e.Outcome != audit.OutcomeSuccess || e.Attrs["old_kek"] != oldID ||
		e.Attrs["new_kek"] != newKEK.ID() || e.Attrs["repository"] != f.repo.ID() || e.Target.RecordID != f.repo.ID() {
		t.Fatalf("rewrap audited as %+v", e)
	}
	before := len(f.audit.Events())
	config, err := os.ReadFile(filepath.Join(f.target.Root(), configName))
	if err != nil {
		t.Fatal(err)
	}
	// Resumed: the old KEK need not even open it any more.
	if err := f.repo.Rewrap(f.ctx, testKEK(t, 9), newKEK); err != nil {
		t.Fatalf("second rewrap: %v", err)
	}
	again, err := os.ReadFile(filepath.Join(f.target.Root(), configName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(config, again) || len(f.audit.Events()) != before {
		t.Fatal("a rewrap to the KEK already in use wrote the configuration or the audit trail")
	}
	// The audit writer failing makes the rewrap fail with ErrAudit.
	g := newFixture(t)
	g.audit.FailWith(errors.New("disk full"))
	if err := g.repo.Rewrap(g.ctx, g.kek, newKEK); !errors.Is(err, ErrAudit) {
		t.Fatalf("rewrap with a failing audit writer: %v, want ErrAudit", err)
	}
}
