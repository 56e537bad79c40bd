package backup

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestUnchangedFilesReused: a file whose size, modification time and mode
// match the previous backup of the source is not read again (its chunks
// are reused: content rewritten in place with the old time restored stays
// the previous content), one with a new time is read, and one modified
// just before the previous backup started is always read.
func TestUnchangedFilesReused(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	old := time.Now().Add(-time.Hour)
	write := func(name, content string, mt time.Time) {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mt, mt)
	}
	write("same.txt", "version one", old)
	write("touched.txt", "version one", old)
	write("recent.txt", "version one", time.Now())
	m1, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	write("same.txt", "version two", old)                     // same size and time: reused
	write("touched.txt", "version two", old.Add(time.Second)) // new time: read
	write("recent.txt", "version two", time.Now())
	m2, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	byPath := func(m *Manifest) map[string]string {
		out := map[string]string{}
		for _, e := range m.Entries {
			if len(e.Chunks) > 0 {
				out[e.Path] = e.Chunks[0].Name
			}
		}
		return out
	}
	a, b := byPath(m1), byPath(m2)
	if a["same.txt"] != b["same.txt"] || a["touched.txt"] == b["touched.txt"] || a["recent.txt"] == b["recent.txt"] {
		t.Fatalf("reuse: same %v, touched %v, recent %v", a["same.txt"] == b["same.txt"], a["touched.txt"] == b["touched.txt"], a["recent.txt"] == b["recent.txt"])
	}
	// Another source name never shares a parent.
	m3, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if byPath(m3)["same.txt"] == a["same.txt"] {
		t.Fatal("a backup of another source reused a parent's chunks")
	}
}
