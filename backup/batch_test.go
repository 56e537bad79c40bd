package backup

import (
	"errors"
	"testing"
)

// TestDirTargetBatchedPut: PutBatched objects are readable at once, their
// directories are fsynced by Flush, once each, and a failed directory
// sync stays pending for the next Flush.
func TestDirTargetBatchedPut(t *testing.T) {
	ctx := t.Context()
	d, err := NewDirTarget(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var synced []string
	fail := true
	d.syncDir = func(dir string) error {
		if fail {
			fail = false
			return errors.New("disk full")
		}
		synced = append(synced, dir)
		return nil
	}
	for _, n := range []string{"chunks/aa/1", "chunks/aa/2", "chunks/bb/3"} {
		if err := d.PutBatched(ctx, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if len(synced) != 0 {
		t.Fatalf("PutBatched synced %v", synced)
	}
	if err := d.Flush(ctx); err == nil {
		t.Fatal("Flush hid a failed directory sync")
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(ctx); err != nil || len(synced) != 2 {
		t.Fatalf("synced %d directories (%v), want 2 in all", len(synced), err)
	}
	rc, err := d.Open(ctx, "chunks/bb/3")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}
