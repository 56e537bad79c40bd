package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// testKEK returns a local KEK with a fixed master key (n selects the key).
func testKEK(t testing.TB, n byte) phi.KEK {
	t.Helper()
	k, err := localkek.New(bytes.Repeat([]byte{n}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fixture struct {
	t      testing.TB
	ctx    context.Context
	target *DirTarget
	repo   *Repository
	audit  *audittest.Memory
	kek    phi.KEK
}

// newFixture creates a repository in a temporary directory target with a
// small chunk size so that tests exercise many chunks.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, Config{})
}

// newFixtureWith is newFixture with the other settings of cfg (its Audit
// and Actor are the fixture's; ChunkSize defaults to MinChunkSize).
func newFixtureWith(t testing.TB, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	tg, err := NewDirTarget(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &audittest.Memory{}
	kek := testKEK(t, 1)
	cfg.Audit, cfg.Actor = rec, audit.Actor{UserID: "backup-operator"}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = MinChunkSize
	}
	repo, err := Init(ctx, tg, kek, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, target: tg, repo: repo, audit: rec, kek: kek}
}

// reopen opens the fixture's repository again with cfg (its Audit and
// Actor are the fixture's).
func (f *fixture) reopen(cfg Config) *Repository {
	f.t.Helper()
	cfg.Audit, cfg.Actor = f.audit, audit.Actor{UserID: "backup-operator"}
	r, err := Open(f.ctx, f.target, f.kek, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// writeTree creates a small directory tree: files of various sizes (empty,
// one byte, exactly one chunk, several chunks plus a tail, a duplicate) and
// nested directories.
func writeTree(t testing.TB, root string) {
	t.Helper()
	big := make([]byte, 3*MinChunkSize+123)
	rand.Read(big)
	files := map[string][]byte{
		"empty":              nil,
		"one":                []byte("x"),
		"exact":              bytes.Repeat([]byte("e"), MinChunkSize),
		"big.bin":            big,
		"sub/dup.bin":        big,
		"sub/deeper/note.md": []byte("# notes\n"),
	}
	for name, b := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// treeDigest describes a tree (paths, types, modes, contents) for comparison.
func treeDigest(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil // the restored root is always 0700
		}
		st, _ := e.Info()
		b.WriteString(rel + " " + st.Mode().String())
		if st.Mode().IsRegular() {
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x %d %s", sha256.Sum256(c), len(c), st.ModTime().UTC())
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
