package disposal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestErase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Erase(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file still there: %v", err)
	}
	if err := Erase(ctx, p); err != nil {
		t.Fatalf("erasing again: %v", err)
	}
	// A symlink is removed, not its target.
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("x"), 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Erase(ctx, link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatalf("symlink target removed: %v", err)
	}
	if err := Erase(ctx, dir); !errors.Is(err, ErrNotRegularFile) {
		t.Fatalf("directory: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Erase(cctx, target); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestEraseErrorOmitsPath(t *testing.T) {
	dir := t.TempDir()
	const canary = "MRN-CANARY-123"
	parent := filepath.Join(dir, "file-"+canary)
	os.WriteFile(parent, []byte("x"), 0o600)
	// parent is a file, so parent/child cannot be statted: ENOTDIR.
	err := Erase(context.Background(), filepath.Join(parent, "child"))
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("error %v", err)
	}
}
