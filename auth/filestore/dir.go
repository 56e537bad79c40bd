package filestore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hipaakit/hipaakit/durable"
)

// openStoreDir prepares the directory of a file store: it creates it (mode
// 0700), takes its exclusive lock file, removes the temporary files of writes
// a crash interrupted, and returns the lock with the paths of the directory's
// *.json files in name order. what names the store in errors.
func openStoreDir(dir, what string) (*durable.Lock, []string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("filestore: %s dir: %w", what, err)
	}
	lock, err := durable.TryLock(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, nil, fmt.Errorf("filestore: %s dir: %w", what, err)
	}
	if err := durable.RemoveTemps(dir); err != nil {
		lock.Unlock()
		return nil, nil, fmt.Errorf("filestore: %s dir: %w", what, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		lock.Unlock()
		return nil, nil, fmt.Errorf("filestore: read %s dir: %w", what, err)
	}
	var paths []string
	for _, e := range entries {
		if name := e.Name(); !e.IsDir() && !strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".json") {
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	return lock, paths, nil
}
