package backuptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// Run runs the conformance suite against targets made by newTarget.
func Run(t *testing.T, newTarget func(t *testing.T) backup.Target) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, tg backup.Target)
	}{
		{"PutOpen", testPutOpen},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"List", testList},
		{"Delete", testDelete},
		{"InvalidNames", testInvalidNames},
		{"Concurrent", testConcurrent},
		{"Canceled", testCanceled},
		{"Repository", testRepository},
		{"Create", testCreate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newTarget(t)) })
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func get(t *testing.T, tg backup.Target, name string) []byte {
	t.Helper()
	rc, err := tg.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func testPutOpen(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	for name, data := range map[string][]byte{
		"empty":             {},
		"one":               {1},
		"chunks/ab/abcdef0": random(1000),
		"large/object":      random(9<<20 + 17), // above common multipart thresholds
	} {
		if err := tg.Put(ctx, name, data); err != nil {
			t.Fatalf("Put(%s): %v", name, err)
		}
		if got := get(t, tg, name); !bytes.Equal(got, data) {
			t.Fatalf("Open(%s) returned %d bytes that differ from the %d put", name, len(got), len(data))
		}
		st, err := tg.Stat(ctx, name)
		if err != nil || st.Size != int64(len(data)) || st.Name != name || st.ModTime.IsZero() {
			t.Fatalf("Stat(%s) = %+v, %v; want size %d", name, st, err, len(data))
		}
	}
}

func testOverwrite(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	if err := tg.Put(ctx, "x", []byte("first version")); err != nil {
		t.Fatal(err)
	}
	if err := tg.Put(ctx, "x", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got := get(t, tg, "x"); string(got) != "second" {
		t.Fatalf("after overwrite: %q", got)
	}
	n := 0
	tg.List(ctx, "", func(backup.ObjectInfo) error { n++; return nil })
	if n != 1 {
		t.Fatalf("overwrite left %d objects, want 1", n)
	}
}

func testMissing(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	if _, err := tg.Open(ctx, "nope"); !errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("Open of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := tg.Stat(ctx, "dir/nope"); !errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("Stat of a missing object: %v, want ErrNotFound", err)
	}
	called := false
	if err := tg.List(ctx, "nothing/", func(backup.ObjectInfo) error { called = true; return nil }); err != nil || called {
		t.Fatalf("List of an empty prefix: called=%v, %v", called, err)
	}
}

func testList(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	names := []string{"locks/backup-2", "locks/backup-1", "locks/gc-1", "manifests/b", "manifests/a", "chunks/00/001", "chunks/ff/ff1", "config"}
	for _, n := range names {
		if err := tg.Put(ctx, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	collect := func(prefix string) []string {
		var out []string
		err := tg.List(ctx, prefix, func(o backup.ObjectInfo) error {
			if o.Size != int64(len(o.Name)) {
				return fmt.Errorf("object %s listed with size %d", o.Name, o.Size)
			}
			out = append(out, o.Name)
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		return out
	}
	for prefix, want := range map[string][]string{
		"locks/backup-": {"locks/backup-1", "locks/backup-2"},
		"locks/":        {"locks/backup-1", "locks/backup-2", "locks/gc-1"},
		"manifests/":    {"manifests/a", "manifests/b"},
		"chunks/":       {"chunks/00/001", "chunks/ff/ff1"},
		"":              {"chunks/00/001", "chunks/ff/ff1", "config", "locks/backup-1", "locks/backup-2", "locks/gc-1", "manifests/a", "manifests/b"},
	} {
		if got := collect(prefix); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("List(%q) = %v, want %v", prefix, got, want)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := tg.List(ctx, "", func(backup.ObjectInfo) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("List did not stop with fn's error: %v after %d calls", err, n)
	}
}

func testDelete(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	if err := tg.Put(ctx, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := tg.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Open(ctx, "a/b"); !errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("Open after Delete: %v", err)
	}
	if err := tg.Delete(ctx, "a/b"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := tg.Delete(ctx, "never/was"); err != nil {
		t.Fatalf("Delete of a missing object: %v", err)
	}
}

func testInvalidNames(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	for _, name := range []string{"", "/abs", "a//b", "../up", "a/../b", "a/./b", "UPPER", "sp ace", "a/", string(bytes.Repeat([]byte("a"), 256)), "nul\x00"} {
		if err := tg.Put(ctx, name, []byte("x")); !errors.Is(err, backup.ErrInvalidName) {
			t.Fatalf("Put(%q): %v, want ErrInvalidName", name, err)
		}
		if _, err := tg.Open(ctx, name); !errors.Is(err, backup.ErrInvalidName) {
			t.Fatalf("Open(%q): %v, want ErrInvalidName", name, err)
		}
		if _, err := tg.Stat(ctx, name); !errors.Is(err, backup.ErrInvalidName) {
			t.Fatalf("Stat(%q): %v, want ErrInvalidName", name, err)
		}
		if err := tg.Delete(ctx, name); !errors.Is(err, backup.ErrInvalidName) {
			t.Fatalf("Delete(%q): %v, want ErrInvalidName", name, err)
		}
	}
	if err := tg.List(ctx, "../", func(backup.ObjectInfo) error { return nil }); !errors.Is(err, backup.ErrInvalidName) {
		t.Fatalf("List(../): %v, want ErrInvalidName", err)
	}
}

func testConcurrent(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	versions := [][]byte{random(70000), random(70000)}
	for i := 0; i < 16; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			errs <- tg.Put(ctx, fmt.Sprintf("c/%02d", i), []byte{byte(i)})
		}(i)
		go func(i int) {
			defer wg.Done()
			errs <- tg.Put(ctx, "same", versions[i%2])
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	tg.List(ctx, "c/", func(backup.ObjectInfo) error { n++; return nil })
	if n != 16 {
		t.Fatalf("listed %d of 16 concurrently put objects", n)
	}
	got := get(t, tg, "same")
	if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
		t.Fatal("concurrent Puts of one name produced a mix")
	}
}

func testCanceled(t *testing.T, tg backup.Target) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tg.Put(ctx, "x", []byte("x")); err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	if _, err := tg.Stat(context.Background(), "x"); !errors.Is(err, backup.ErrNotFound) {
		t.Fatalf("a canceled Put left an object: %v", err)
	}
}

// testRepository runs a backup, a full verification and a restore through
// the target.
func testRepository(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	kek, err := localkek.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "conformance"}, ChunkSize: backup.MinChunkSize}
	repo, err := backup.Init(ctx, tg, kek, cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	files := map[string][]byte{"a.txt": []byte("alpha"), "d/b.bin": random(3*backup.MinChunkSize + 5)}
	for n, b := range files {
		p := filepath.Join(src, filepath.FromSlash(n))
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := repo.Backup(ctx, backup.DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	repo2, err := backup.Open(ctx, tg, kek, backup.Config{Audit: cfg.Audit, Actor: cfg.Actor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo2.Verify(ctx, m.ID, backup.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := repo2.Restore(ctx, m.ID, backup.NewDirSink(dest), backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for n, want := range files {
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(n)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("restored %s differs (%v)", n, err)
		}
	}
}

// testCreate checks backup.Creator when the target implements it: exactly
// one of several concurrent creators of a name wins.
func testCreate(t *testing.T, tg backup.Target) {
	c, ok := tg.(backup.Creator)
	if !ok {
		return // optional interface
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, lost := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := c.Create(ctx, "config", []byte{byte(i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, backup.ErrExists):
				lost++
			default:
				t.Errorf("Create: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 || lost != 7 {
		t.Fatalf("%d creators won and %d lost, want 1 and 7", wins, lost)
	}
	if err := c.Create(ctx, "../x", nil); !errors.Is(err, backup.ErrInvalidName) {
		t.Fatalf("Create with an invalid name: %v", err)
	}
}
