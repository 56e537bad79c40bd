package filestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/durable"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/keystoretest"
)

func open(t *testing.T, dir string) *filestore.Store {
	t.Helper()
	s, err := filestore.Open(dir, filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) phi.KeyStore { return open(t, t.TempDir()) })
}

func TestConformanceShared(t *testing.T) {
	keystoretest.RunShared(t, func(t *testing.T) (phi.KeyStore, phi.KeyStore) {
		dir := t.TempDir()
		return open(t, dir), open(t, dir)
	})
}

// copyDir copies the files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestGoldenStore opens the version-1 store committed under testdata.
func TestGoldenStore(t *testing.T) {
	ctx := context.Background()
	s := open(t, copyDir(t, filepath.Join("testdata", "golden-v1")))
	k, err := s.Get(ctx, "patient-0001")
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != 3 || k.KEKID != "local:3f2a9c01" || !slices.Equal(k.KeyIDs, []uint32{0x1234abcd, 42}) ||
		string(k.Ciphertext) != "\x01\x02wrapped-keyset-bytes\xfe\xff" ||
		!k.Created.Equal(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)) {
		t.Fatalf("golden keyset read back as %+v", k)
	}
	if _, err := s.Get(ctx, "patient-0002"); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("golden tombstone: %v, want ErrShredded", err)
	}
	list, err := s.List(ctx, "", 10)
	if err != nil || len(list) != 1 || list[0].Ref != "patient-0001" {
		t.Fatalf("List = %v, %v", list, err)
	}
}

func TestOpenRefusesOtherLayout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "FORMAT"), []byte("hipaakit phi/filestore 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := filestore.Open(dir, filestore.Config{}); !errors.Is(err, filestore.ErrUnsupportedVersion) {
		t.Fatalf("Open of a layout-2 directory: %v, want ErrUnsupportedVersion", err)
	}
}

func TestPermissionsAndNames(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	s := open(t, dir)
	const ref = "Patient:Canary@Ref"
	if err := s.Create(ctx, keystoretest.Keyset(ref, 1)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, %v; want 0700", fi.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	for _, e := range entries {
		if strings.Contains(strings.ToLower(e.Name()), "patient") || strings.Contains(e.Name(), ":") {
			t.Errorf("file name %q holds the raw reference", e.Name())
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v is readable by others", e.Name(), fi.Mode())
		}
		if strings.HasPrefix(e.Name(), "k") {
			records++
		}
	}
	if records != 1 {
		t.Fatalf("%d record files, want 1", records)
	}
}

// recordFile returns the path of the only record file in dir.
func recordFile(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "k*"))
	if err != nil || len(m) != 1 {
		t.Fatalf("record files %v, %v", m, err)
	}
	return m[0]
}

func TestCorruptRecord(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.Create(ctx, keystoretest.Keyset("subject-1", 1)); err != nil {
		t.Fatal(err)
	}
	path := recordFile(t, dir)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "subject-1")
	if !errors.Is(err, filestore.ErrCorrupt) || errors.Is(err, phi.ErrKeyNotFound) || errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Get of a damaged record: %v, want only ErrCorrupt", err)
	}
	if strings.Contains(err.Error(), "wrapped-keyset") {
		t.Fatalf("error quotes the record: %v", err)
	}
	if _, err := s.List(ctx, "", 10); !errors.Is(err, filestore.ErrCorrupt) {
		t.Fatalf("List over a damaged record: %v, want ErrCorrupt", err)
	}
	if err := s.Update(ctx, keystoretest.Keyset("subject-1", 2), 1); !errors.Is(err, filestore.ErrCorrupt) {
		t.Fatalf("Update of a damaged record: %v, want ErrCorrupt", err)
	}
	// Destruction does not depend on the record being readable.
	if _, err := s.Shred(ctx, "subject-1"); err != nil {
		t.Fatalf("Shred of a damaged record: %v", err)
	}
	if _, err := s.Get(ctx, "subject-1"); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Get after shredding a damaged record: %v", err)
	}
}

// TestShredScrubsOldFile checks that the old record's blocks are zeroed: a
// handle opened on the keyset file before Shred reads zeros afterwards.
func TestShredScrubsOldFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	k := keystoretest.Keyset("subject-1", 1)
	if err := s.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(recordFile(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := s.Shred(ctx, "subject-1"); err != nil {
		t.Fatal(err)
	}
	old, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) == 0 || bytes.Count(old, []byte{0}) != len(old) {
		t.Fatalf("the replaced keyset file still holds %d non-zero bytes", len(old)-bytes.Count(old, []byte{0}))
	}
	tomb, err := os.ReadFile(recordFile(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(tomb, k.Ciphertext) {
		t.Fatal("the tombstone holds the ciphertext")
	}
}

func TestOpenRemovesLeftoverTemps(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	tmp := filepath.Join(dir, ".k60.tmp-123")
	if err := os.WriteFile(tmp, []byte("half-written"), 0o600); err != nil {
		t.Fatal(err)
	}
	open(t, dir)
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("leftover temporary file survived Open: %v", err)
	}
}

// TestLockWaitHonoursContext holds the directory lock from outside and checks
// that a writer gives up when its context ends, and succeeds once released.
func TestLockWaitHonoursContext(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	l, err := durable.TryLock(filepath.Join(dir, ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Create(ctx, keystoretest.Keyset("subject-1", 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Create while locked: %v, want DeadlineExceeded", err)
	}
	if _, err := s.Get(context.Background(), "subject-1"); !errors.Is(err, phi.ErrKeyNotFound) {
		t.Fatalf("Get after the abandoned Create: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Create(context.Background(), keystoretest.Keyset("subject-1", 1)) }()
	time.Sleep(20 * time.Millisecond)
	l.Unlock()
	if err := <-done; err != nil {
		t.Fatalf("Create after the lock was released: %v", err)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	for _, ref := range []string{"", "../etc", "a/b", strings.Repeat("a", phi.MaxRefLen+1), "ü"} {
		if err := s.Create(ctx, keystoretest.Keyset(ref, 1)); err == nil {
			t.Errorf("Create(%q) succeeded", ref)
		}
		if _, err := s.Get(ctx, ref); err == nil || errors.Is(err, phi.ErrKeyNotFound) {
			t.Errorf("Get(%q) = %v, want an invalid-reference error", ref, err)
		}
		if _, err := s.Shred(ctx, ref); err == nil {
			t.Errorf("Shred(%q) succeeded", ref)
		}
	}
	if _, err := s.List(ctx, "", 0); err == nil {
		t.Error("List with limit 0 succeeded")
	}
	big := keystoretest.Keyset("subject-1", 1)
	big.Ciphertext = make([]byte, 1<<20+1)
	if err := s.Create(ctx, big); err == nil {
		t.Error("Create of an oversized keyset succeeded")
	}
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "hipaakit-keys-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	store, err := filestore.Open(dir, filestore.Config{})
	if err != nil {
		panic(err)
	}
	err = store.Create(ctx, phi.WrappedKeyset{Ref: "patient-42", KEKID: "local:demo", Ciphertext: []byte("wrapped"), KeyIDs: []uint32{7}})
	fmt.Println("create:", err)
	destroyed, err := store.Shred(ctx, "patient-42")
	fmt.Println("shred:", destroyed, err)
	_, err = store.Get(ctx, "patient-42")
	fmt.Println("get:", errors.Is(err, phi.ErrShredded))
	// Output:
	// create: <nil>
	// shred: [7] <nil>
	// get: true
}

func TestOpenRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kek"), []byte("not a record"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := filestore.Open(dir, filestore.Config{}); err == nil {
		t.Fatal("Open turned a directory holding other files into a key store")
	}
}
