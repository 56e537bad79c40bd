package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// TestPruneReverifiesDamagedRecord: the newest verified backup whose
// record is torn is verified again before the plan, so it is kept as the
// last verified backup instead of an older one.
func TestPruneReverifiesDamagedRecord(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, Config{Clock: clk})
	src := t.TempDir()
	writeTree(t, src)
	var ids []string
	for i := 0; i < 3; i++ {
		m, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "records"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
		clk.Advance(time.Hour)
	}
	a, b, c := ids[0], ids[1], ids[2]
	for _, id := range []string{a, b} {
		if _, err := f.repo.Verify(f.ctx, id, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.target.Put(f.ctx, verifiedObject(b), []byte("torn")); err != nil {
		t.Fatal(err)
	}
	rep, err := f.repo.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Reverified, []string{b}) || !slices.Equal(rep.Removed, []string{a}) {
		t.Fatalf("reverified %v, removed %v; want [%s], [%s]", rep.Reverified, rep.Removed, b, a)
	}
	all, err := f.repo.List(f.ctx)
	if err != nil || len(all) != 2 || all[0].ID != b || all[1].ID != c || all[0].Verified.IsZero() || all[0].VerifiedProblem != "" {
		t.Fatalf("after prune: %+v, %v", all, err)
	}

	// A backup that no longer verifies stays unverified: the older
	// verified one is kept in its place.
	f2 := newFixtureWith(t, Config{Clock: clk})
	var ids2 []string
	for i := 0; i < 3; i++ {
		m, err := f2.repo.Backup(f2.ctx, DirSource{Root: src, Name: "records"})
		if err != nil {
			t.Fatal(err)
		}
		ids2 = append(ids2, m.ID)
		clk.Advance(time.Hour)
		src = t.TempDir() // the next backup shares no chunk
		writeTree(t, src)
	}
	for _, id := range ids2[:2] {
		if _, err := f2.repo.Verify(f2.ctx, id, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m1, _ := f2.repo.Manifest(f2.ctx, ids2[1])
	f2.target.Delete(f2.ctx, chunkObjectHex(m1.Entries[len(m1.Entries)-1].Chunks[0].Name))
	f2.target.Put(f2.ctx, verifiedObject(ids2[1]), []byte("torn"))
	rep, err = f2.repo.Prune(f2.ctx, PruneOptions{Policy: Policy{KeepLast: 1}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Removed, []string{ids2[1]}) {
		t.Fatalf("removed %v, want only the backup that fails verification %s", rep.Removed, ids2[1])
	}
}

// TestBackupUnauditedIsRemoved: a backup whose success event cannot be
// written is reported failed and is not listed.
func TestBackupUnauditedIsRemoved(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	f.audit.FailWith(errors.New("disk full"))
	if _, err := f.repo.Backup(f.ctx, DirSource{Root: src}); !errors.Is(err, ErrAudit) {
		t.Fatalf("backup with a failing audit writer: %v, want ErrAudit", err)
	}
	f.audit.FailWith(nil)
	all, err := f.repo.List(f.ctx)
	if err != nil || len(all) != 0 {
		t.Fatalf("a backup that was not audited is listed: %+v, %v", all, err)
	}
	var n int
	f.target.List(f.ctx, manifestPrefix, func(ObjectInfo) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d manifest(s) left", n)
	}
}

// readOnly fails every Put and Delete, as a read-only bucket or mount does.
type readOnly struct{ Target }

var errReadOnly = errors.New("read-only target")

func (readOnly) Put(context.Context, string, []byte) error { return errReadOnly }
func (readOnly) Delete(context.Context, string) error      { return errReadOnly }

// TestVerdictWithoutMarker: on a read-only target Verify and Drill report
// their passing verdict with a separate, typed error for the record.
func TestVerdictWithoutMarker(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(f.ctx, readOnly{f.target}, f.kek, Config{Audit: f.audit, Actor: audit.Actor{UserID: "auditor"}})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := r.Verify(f.ctx, m.ID, VerifyOptions{})
	var me *MarkerError
	if !errors.Is(err, ErrMarkerNotWritten) || !errors.As(err, &me) || me.ID != m.ID || !errors.Is(err, errReadOnly) ||
		errors.Is(err, ErrVerifyFailed) || len(vr.Problems) != 0 || vr.Checked != vr.Chunks || vr.Chunks == 0 {
		t.Fatalf("verify on a read-only target: %+v, %v", vr, err)
	}
	if ev := f.audit.Last(); ev.Outcome != audit.OutcomeSuccess || ev.Reason != "record_not_written" {
		t.Fatalf("verify event %+v", ev)
	}
	dr, err := r.Drill(f.ctx, DrillOptions{ID: m.ID, ScratchDir: t.TempDir()})
	if !errors.Is(err, ErrMarkerNotWritten) || errors.Is(err, ErrDrillFailed) || !dr.Pass {
		t.Fatalf("drill on a read-only target: %+v, %v", dr, err)
	}
	if ev := f.audit.Last(); ev.Action != audit.ActionRestoreDrill || ev.Outcome != audit.OutcomeSuccess {
		t.Fatalf("drill event %+v", ev)
	}
}

// TestDirTargetErrorsNameObjects: file-system failures name the object, never
// the repository's absolute path.
func TestDirTargetErrorsNameObjects(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "secret-location")
	d, err := NewDirTarget(root)
	if err != nil {
		t.Fatal(err)
	}
	// A file where a directory must be: every operation below it fails.
	if err := os.WriteFile(filepath.Join(root, "blocker"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const name = "blocker/obj"
	_, oerr := d.Open(ctx, name)
	_, serr := d.Stat(ctx, name)
	for op, err := range map[string]error{
		"put": d.Put(ctx, name, []byte("x")), "create": d.Create(ctx, name, []byte("x")),
		"open": oerr, "stat": serr, "delete": d.Delete(ctx, name+"/deeper"),
	} {
		if err == nil {
			if op == "stat" || op == "delete" {
				continue // reported as not found / nothing to delete
			}
			t.Fatalf("%s below a file succeeded", op)
		}
		if strings.Contains(err.Error(), root) || strings.Contains(err.Error(), "secret-location") {
			t.Errorf("%s error holds the absolute path: %v", op, err)
		}
		if !errors.Is(err, ErrNotFound) && !strings.Contains(err.Error(), name) {
			t.Errorf("%s error does not name the object: %v", op, err)
		}
	}
}

// TestDamagedManifestSkipped: one corrupt manifest is named and skipped;
// the other backups list, Latest and Prune work, and no chunk is collected
// while the damaged manifest's references are unknown.
func TestDamagedManifestSkipped(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	var ids []string
	for i := 0; i < 3; i++ {
		m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	bad := manifestObject(ids[1])
	if err := f.target.Put(f.ctx, bad, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	l, err := f.repo.ListReport(f.ctx)
	if err != nil || len(l.Backups) != 2 || len(l.Damaged) != 1 || l.Damaged[0].Object != bad || !errors.Is(l.Damaged[0].Err, ErrCorrupt) {
		t.Fatalf("ListReport: %+v, %v", l, err)
	}
	if all, err := f.repo.List(f.ctx); err != nil || len(all) != 2 {
		t.Fatalf("List: %+v, %v", all, err)
	}
	if _, err := f.repo.Latest(f.ctx, ""); err != nil {
		t.Fatal(err)
	}
	// An unreferenced chunk that only the damaged manifest might use.
	var orphan [32]byte
	orphan[0] = 0xaa
	if err := f.target.Put(f.ctx, chunkObject(orphan), []byte("x")); err != nil {
		t.Fatal(err)
	}
	rep, err := f.repo.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damaged) != 1 || rep.Damaged[0].Object != bad || !rep.GCBlocked || rep.ChunksDeleted != 0 || slices.Contains(rep.Removed, ids[1]) {
		t.Fatalf("prune with a damaged manifest: %+v", rep)
	}
	if _, err := f.target.Stat(f.ctx, chunkObject(orphan)); err != nil {
		t.Fatal("a chunk was collected on a partial view of the references")
	}
}
