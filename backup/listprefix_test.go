package backup

import (
	"context"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// prefixIgnoringTarget lists every object whatever prefix it is asked for,
// like an S3-compatible server that ignores Prefix.
type prefixIgnoringTarget struct{ Target }

func (t prefixIgnoringTarget) List(ctx context.Context, _ string, fn func(ObjectInfo) error) error {
	return t.Target.List(ctx, "", fn)
}

// TestListingIgnoredPrefix: names outside the requested prefix are skipped
// by List, Latest, Prune and Drill instead of panicking (slice bounds out of
// range) or being taken for manifests, markers or locks.
func TestListingIgnoredPrefix(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	var ids []string
	for i := 0; i < 3; i++ {
		m, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "records"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if _, err := f.repo.Verify(f.ctx, ids[0], VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(f.ctx, prefixIgnoringTarget{f.target}, f.kek, Config{Audit: f.audit, Actor: audit.Actor{UserID: "backup-operator"}})
	if err != nil {
		t.Fatal(err)
	}
	all, err := r.List(f.ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("List = %d backups, %v; want 3", len(all), err)
	}
	if all[0].Verified.IsZero() {
		t.Error("verification marker not found")
	}
	if l, err := r.Latest(f.ctx, ""); err != nil || l.ID != ids[2] {
		t.Fatalf("Latest = %v, %v", l.ID, err)
	}
	if _, err := r.Drill(f.ctx, DrillOptions{}); err != nil {
		t.Fatalf("Drill: %v", err)
	}
	rep, err := r.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}})
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	// The drill verified the newest backup, which KeepLast keeps anyway.
	if len(rep.Removed) != 2 {
		t.Fatalf("Prune removed %v, want the two older backups", rep.Removed)
	}
	// Objects outside the prefixes must survive (e.g. "config" taken for a
	// stale lock).
	if _, err := f.target.Stat(f.ctx, configName); err != nil {
		t.Fatalf("config after prune: %v", err)
	}
	if left, err := f.reopen(Config{}).List(f.ctx); err != nil || len(left) != 1 || left[0].ID != ids[2] {
		t.Fatalf("after prune: %v, %v", left, err)
	}
}
