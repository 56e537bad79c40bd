package localkek_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/kektest"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

var ctx = context.Background()

func TestConformance(t *testing.T) {
	kektest.Run(t, func(t *testing.T) phi.KEK {
		k, err := localkek.FromDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return k
	})
}

func TestUnwrapFailuresAreErrTampered(t *testing.T) {
	k, _ := localkek.New(bytes.Repeat([]byte{3}, 32))
	other, _ := localkek.New(bytes.Repeat([]byte{4}, 32))
	ct, err := k.Wrap(ctx, []byte("keyset"), []byte("ref-a"))
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() ([]byte, error){
		"wrong ad":  func() ([]byte, error) { return k.Unwrap(ctx, ct, []byte("ref-b")) },
		"wrong key": func() ([]byte, error) { return other.Unwrap(ctx, ct, []byte("ref-a")) },
		"empty":     func() ([]byte, error) { return k.Unwrap(ctx, nil, []byte("ref-a")) },
		"short":     func() ([]byte, error) { return k.Unwrap(ctx, ct[:20], []byte("ref-a")) },
		"version":   func() ([]byte, error) { c := bytes.Clone(ct); c[0] = 2; return k.Unwrap(ctx, c, []byte("ref-a")) },
		"flipped": func() ([]byte, error) {
			c := bytes.Clone(ct)
			c[len(c)-1] ^= 1
			return k.Unwrap(ctx, c, []byte("ref-a"))
		},
	} {
		if _, err := f(); !errors.Is(err, phi.ErrTampered) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := k.Unwrap(c, ct, []byte("ref-a")); !errors.Is(err, context.Canceled) || errors.Is(err, phi.ErrTampered) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestIDIsStableFingerprint(t *testing.T) {
	key := bytes.Repeat([]byte{5}, 32)
	a, _ := localkek.New(key)
	b, _ := localkek.Parse(localkek.Encode(key))
	c, _ := localkek.New(bytes.Repeat([]byte{6}, 32))
	if a.ID() != b.ID() || a.ID() == c.ID() || !strings.HasPrefix(a.ID(), "local:") || len(a.ID()) != len("local:")+16 {
		t.Fatalf("IDs %q %q %q", a.ID(), b.ID(), c.ID())
	}
	if strings.Contains(a.ID(), "0505") {
		t.Fatal("ID shows key bytes")
	}
}

func TestParseAndNew(t *testing.T) {
	const secret = "hipaakit-local-kek-v1:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
	for _, bad := range []string{"", "c2VjcmV0", secret[:len(secret)-4], secret + "AAAA", "hipaakit-local-kek-v1:!!!"} {
		_, err := localkek.Parse(bad)
		if !errors.Is(err, localkek.ErrInvalidKey) {
			t.Errorf("Parse(%q): %v", bad, err)
		}
		if err != nil && len(bad) > 30 && strings.Contains(err.Error(), bad[22:]) {
			t.Errorf("error echoes the key: %v", err)
		}
	}
	if _, err := localkek.New(make([]byte, 16)); !errors.Is(err, localkek.ErrInvalidKey) {
		t.Error("16-byte key accepted")
	}
	enc, err := localkek.Generate()
	if err != nil {
		t.Fatal(err)
	}
	enc2, _ := localkek.Generate()
	if enc == enc2 {
		t.Fatal("Generate repeated a key")
	}
	if _, err := localkek.Parse("  " + enc + "\n"); err != nil {
		t.Fatalf("Parse with white space: %v", err)
	}
}

func TestFromDirCreatesKeyFileOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			k, err := localkek.FromDir(dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent first use created different keys: %v", ids)
		}
	}
	path := filepath.Join(dir, localkek.FileName)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v", di.Mode())
	}
	raw, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(raw), "hipaakit-local-kek-v1:") || !strings.HasSuffix(string(raw), "\n") {
		t.Fatal("key file format")
	}
	k, err := localkek.FromFile(path)
	if err != nil || k.ID() != ids[0] {
		t.Fatalf("reopen: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := localkek.FromFile(path); err == nil {
		t.Fatal("world-readable key file accepted")
	} else if strings.Contains(err.Error(), filepath.Dir(path)) {
		t.Fatalf("the error names the key file's absolute path: %v", err)
	}
	if _, err := localkek.FromFile(filepath.Join(filepath.Dir(path), "missing", "kek.key")); err == nil || strings.Contains(err.Error(), filepath.Dir(path)) {
		t.Fatalf("a missing key file: %v (want an error without the absolute path)", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localkek.FromFile(path); !errors.Is(err, localkek.ErrInvalidKey) || strings.Contains(err.Error(), "garbage") {
		t.Fatalf("garbage key file: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("stray files left in the data directory: %d entries", len(entries))
	}
}
