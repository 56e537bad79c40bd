package durable

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	if err := WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("read %q, %v", b, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestRemoveDurable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	os.WriteFile(p, []byte("x"), 0o600)
	if err := RemoveDurable(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("still there: %v", err)
	}
	if err := RemoveDurable(p); err != nil {
		t.Fatalf("second remove: %v", err)
	}
}

func TestTryLockExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "LOCK")
	l, err := TryLock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := TryLock(p)
	if err != nil {
		t.Fatalf("relock after unlock: %v", err)
	}
	l2.Unlock()
	l2.Unlock() // idempotent
}

func TestWithoutPath(t *testing.T) {
	dir := t.TempDir()
	_, err := os.ReadFile(filepath.Join(dir, "patient-canary"))
	err2 := os.Link(filepath.Join(dir, "a-canary"), filepath.Join(dir, "b-canary"))
	for _, e := range []error{err, err2} {
		got := WithoutPath(e)
		if got == nil || strings.Contains(got.Error(), "canary") || !errors.Is(got, os.ErrNotExist) {
			t.Fatalf("WithoutPath(%v) = %v", e, got)
		}
	}
	if WithoutPath(nil) != nil {
		t.Fatal("nil in, non-nil out")
	}
}

// A crash between WriteFileAtomic's temporary write and its rename leaves a
// temporary file; RemoveTemps removes exactly those.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"a.json", ".lock", ".hidden"}
	for _, n := range keep {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	f, err := os.CreateTemp(dir, ".a.json"+tempInfix+"*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := RemoveTemps(dir); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(keep) {
		t.Fatalf("left %v, want only %v", ents, keep)
	}
}
