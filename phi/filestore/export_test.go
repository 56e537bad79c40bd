package filestore

import (
	"testing"
)

// Generation reads the change counter of the store in dir, for tests.
func Generation(t *testing.T, dir string) uint64 {
	t.Helper()
	g, err := (&Store{dir: dir}).generation()
	if err != nil {
		t.Fatal(err)
	}
	return g
}
