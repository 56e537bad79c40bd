package breach_test

import (
	"net/netip"
	"testing"

	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/breach/breachtest"
)

func openFile(t *testing.T, dir string) *breach.FileStore {
	t.Helper()
	s, err := breach.OpenFileStore(dir, breach.FileConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFileStoreConformance(t *testing.T) {
	dirs := map[breach.Store]string{}
	breachtest.Run(t, breachtest.Store{
		New: func(t *testing.T) breach.Store {
			dir := t.TempDir()
			s := openFile(t, dir)
			dirs[s] = dir
			return s
		},
		Reopen: func(t *testing.T, s breach.Store) breach.Store {
			s.(*breach.FileStore).Close()
			n := openFile(t, dirs[s])
			dirs[n] = dirs[s]
			return n
		},
	})
}

func mustPrefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}
