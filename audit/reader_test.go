package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// dirState lists a directory's entries with their sizes and modification
// times, to prove that a reader left it as it was.
func dirState(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(e.Name(), " ", fi.ModTime(), " ", fi.Size()))
	}
	return out
}

// Verifying, searching and exporting a log with a torn tail (a crashed
// writer, whose LOCK file is gone, e.g. a copied directory) must not create
// a LOCK file or change anything else in the directory.
func TestReadersNeverModifyTheDirectory(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, nil)
	for i := 0; i < 5; i++ {
		if err := l.Write(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	segs, _ := listSegments(dir)
	f, _ := os.OpenFile(filepath.Join(dir, segs[len(segs)-1]), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte(`{"event":{"action":"read","act`))
	f.Close()
	if err := os.Remove(filepath.Join(dir, lockName)); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, dir)

	if _, err := VerifyDir(context.Background(), dir, testKeys(t)); !errors.Is(err, ErrTorn) {
		t.Fatalf("verify torn: %v", err)
	}
	r, err := OpenFileReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range FileSearcher(r).Search(context.Background(), Filter{}) {
		_ = err
	}
	if after := dirState(t, dir); !slices.Equal(before, after) {
		t.Fatalf("a reader changed the directory:\nbefore %q\nafter  %q", before, after)
	}
}

// Every Searcher refuses the filters Filter.ValidateSearch refuses; the
// file searcher used to accept a negative limit that pgaudit refuses.
func TestFileSearcherValidatesFilter(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, nil)
	if err := l.Write(context.Background(), sampleEvent(0)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r, err := OpenFileReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Filter{{Limit: -1}, {Limit: MaxSearchLimit + 1}, {Stream: "bad stream"}, {Outcome: "maybe"}} {
		n := 0
		var last error
		for _, err := range FileSearcher(r).Search(context.Background(), f) {
			n++
			last = err
		}
		if n != 1 || !errors.Is(last, ErrInvalidFilter) {
			t.Fatalf("filter %+v: %d results, err %v", f, n, last)
		}
	}
}
