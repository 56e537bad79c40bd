package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// failingPut wraps a Target and fails the n-th Put (1-based) with err.
type failingPut struct {
	Target
	n    int64
	err  error
	puts atomic.Int64
}

func (f *failingPut) Put(ctx context.Context, name string, data []byte) error {
	if f.puts.Add(1) == f.n {
		return f.err
	}
	return f.Target.Put(ctx, name, data)
}

// TestInjectedFaultsSurface: a write error, an fsync error or a full disk
// at any object of a backup is an error, never a silent success; the failed
// backup is not listed and the earlier one still verifies.
func TestInjectedFaultsSurface(t *testing.T) {
	faults := map[string]func(d *DirTarget){
		"write error": func(d *DirTarget) {
			d.write = func(*os.File, []byte) (int, error) { return 0, syscall.EIO }
		},
		"fsync error": func(d *DirTarget) { d.sync = func(*os.File) error { return syscall.EIO } },
		"disk full": func(d *DirTarget) {
			d.write = func(f *os.File, b []byte) (int, error) {
				n := len(b) / 2
				f.Write(b[:n])
				return n, syscall.ENOSPC
			}
		},
	}
	for name, inject := range faults {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			src := t.TempDir()
			writeTree(t, src)
			first, err := f.repo.Backup(f.ctx, DirSource{Root: src})
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(src, "new.bin"), bytes.Repeat([]byte("n"), 5*MinChunkSize), 0o600)
			inject(f.target)
			_, err = f.repo.Backup(f.ctx, DirSource{Root: src})
			if err == nil {
				t.Fatal("backup succeeded despite the injected fault")
			}
			f.target.write, f.target.sync = nil, nil
			list, err := f.repo.List(f.ctx)
			if err != nil || len(list) != 1 || list[0].ID != first.ID {
				t.Fatalf("after a failed backup List = %+v, %v; want only the first backup", list, err)
			}
			if _, err := f.repo.Verify(f.ctx, first.ID, VerifyOptions{}); err != nil {
				t.Fatalf("earlier backup no longer verifies: %v", err)
			}
		})
	}
	// A failure at each object of a backup in turn, manifest included.
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	for n := int64(1); ; n++ {
		fp := &failingPut{Target: f.target, n: n, err: syscall.ENOSPC}
		r, err := Open(f.ctx, fp, f.kek, Config{Audit: f.audit, Actor: f.repo.s.actor})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Backup(f.ctx, DirSource{Root: src})
		if fp.puts.Load() < n {
			if err != nil {
				t.Fatalf("backup without a fault failed: %v", err)
			}
			break // every Put position has been failed once
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fault at Put %d: %v, want ENOSPC", n, err)
		}
		if list, _ := f.repo.List(f.ctx); len(list) != 0 {
			t.Fatalf("fault at Put %d: a backup was listed", n)
		}
	}
}

// TestNoPHIInErrorsOrEvents plants a canary in file names and content and
// checks errors, audit events, progress and logs of failing operations.
func TestNoPHIInErrorsOrEvents(t *testing.T) {
	const canary = "999-00-1234-CANARY"
	var progress bytes.Buffer
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	f := newFixtureWith(t, Config{Progress: func(p Progress) { fmt.Fprintf(&progress, "%+v %v\n", p, p) }})
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "patient-"+canary+".txt"), []byte("ssn "+canary), 0o600)
	os.Mkdir(filepath.Join(src, canary), 0o700)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	// An unreadable file in the source.
	bad := filepath.Join(src, canary, "unreadable-"+canary)
	os.WriteFile(bad, []byte(canary), 0o000)
	if os.Getuid() != 0 {
		_, err = f.repo.Backup(f.ctx, DirSource{Root: src})
		errs = append(errs, err)
	}
	os.Remove(bad)
	os.Symlink("/etc/passwd", filepath.Join(src, "link-"+canary))
	_, err = f.repo.Backup(f.ctx, DirSource{Root: src})
	errs = append(errs, err)
	// Restore over existing data, and a corrupt chunk.
	dest := filepath.Join(t.TempDir(), canary)
	os.MkdirAll(filepath.Join(dest, canary), 0o700)
	_, err = f.repo.Restore(f.ctx, m.ID, NewDirSink(dest), RestoreOptions{})
	errs = append(errs, err)
	for _, ref := range distinctChunks(m) {
		n, _ := decodeChunkName(ref.Name)
		os.WriteFile(filepath.Join(f.target.Root(), filepath.FromSlash(chunkObject(n))), []byte(canary), 0o600)
	}
	_, err = f.repo.Restore(f.ctx, m.ID, NewDirSink(filepath.Join(t.TempDir(), "x")), RestoreOptions{})
	errs = append(errs, err)
	_, err = f.repo.Verify(f.ctx, m.ID, VerifyOptions{})
	errs = append(errs, err)

	var text strings.Builder
	for i, err := range errs {
		if err == nil {
			t.Fatalf("operation %d did not fail", i)
		}
		log.Error("op failed", "err", err)
		fmt.Fprintf(&text, "%v %+v %#v\n", err, err, err)
	}
	ev, _ := json.Marshal(f.audit.Events())
	man, _ := json.Marshal(Info{ID: m.ID, Source: m.Source, Totals: m.Totals})
	all := text.String() + logs.String() + string(ev) + progress.String() + string(man)
	if strings.Contains(all, canary) {
		t.Fatalf("PHI canary leaked:\n%s", all)
	}
	if strings.Contains(all, src) {
		t.Fatal("a source path leaked into errors or events")
	}
}
