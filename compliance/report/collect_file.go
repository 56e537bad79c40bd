package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	authfile "github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/compliance/serviceconfig"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/retention"
)

// maxUserFile bounds a user record read from a user directory (auth's own
// limit is 64 KiB).
const maxUserFile = 64 << 10

// errNoStore reports a store directory that does not exist.
var errNoStore = errors.New("report: no such store directory")

// fileStores reads the embedded stores under cfg.DataDir.
type fileStores struct{ cfg *serviceconfig.Config }

func (f fileStores) kind() string { return "file" }
func (f fileStores) close()       {}

// dir returns the store directory name under the data directory, or
// errNoStore (naming only the store, not the path) when it is missing.
func (f fileStores) dir(name string) (string, error) {
	p := filepath.Join(f.cfg.DataDir, name)
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s/ under the data directory", errNoStore, name)
	}
	if err != nil {
		return "", fmt.Errorf("report: %s/: %w", name, durable.WithoutPath(err))
	}
	if !st.IsDir() {
		return "", fmt.Errorf("report: %s/ under the data directory is not a directory", name)
	}
	return p, nil
}

func (f fileStores) keyStore() (phi.KeyStore, error) {
	dir, err := f.dir(hipaakit.DirKeys)
	if err != nil {
		return nil, err
	}
	// Open writes a layout marker only into an empty directory; one without
	// it is not opened, so that Collect never turns it into a key store.
	if _, err := os.Stat(filepath.Join(dir, "FORMAT")); err != nil {
		return nil, errors.New("report: keys/ holds no key store (no FORMAT marker)")
	}
	return filestore.Open(dir, filestore.Config{})
}

func (f fileStores) auditTrail() (auditTrail, error) {
	dir, err := f.dir(hipaakit.DirAudit)
	if err != nil {
		return nil, err
	}
	return audit.OpenFileReader(dir)
}

func (f fileStores) ledger(ctx context.Context) (*disposal.Ledger, error) {
	dir, err := f.dir(hipaakit.DirLedger)
	if err != nil {
		return nil, err
	}
	s, err := disposal.OpenFileLedgerReader(ctx, dir, disposal.FileLedgerOptions{Keys: f.cfg.LedgerPublicKeys()})
	if err != nil {
		return nil, err
	}
	return disposal.NewLedger(s), nil
}

// users decodes every user file without opening authfile.UserStore, whose
// exclusive lock fails while the service runs.
func (f fileStores) users(ctx context.Context) (userSet, error) {
	dir, err := f.dir(hipaakit.DirUsers)
	if err != nil {
		return userSet{}, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return userSet{}, fmt.Errorf("report: read users/: %w", durable.WithoutPath(err))
	}
	set := userSet{uniqueIDs: true}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return userSet{}, err
		}
		u, err := readUser(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // replaced between ReadDir and Open: read as gone
		}
		if err != nil {
			return userSet{}, err
		}
		if seen[u.ID] || name != u.ID+".json" {
			set.uniqueIDs = false
		}
		seen[u.ID] = true
		set.users = append(set.users, u)
	}
	return set, nil
}

func readUser(path string) (*auth.User, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxUserFile+1))
	if err != nil {
		return nil, fmt.Errorf("report: read user record: %w", durable.WithoutPath(err))
	}
	if len(b) > maxUserFile {
		return nil, fmt.Errorf("%w: too large", authfile.ErrCorrupt)
	}
	return authfile.DecodeUser(b)
}

func (f fileStores) holds(ctx context.Context) ([]retention.Hold, error) {
	dir, err := f.dir(hipaakit.DirHolds)
	if err != nil {
		return nil, err
	}
	s, err := retention.OpenFileHoldStore(dir) // the directory exists: nothing is created
	if err != nil {
		return nil, err
	}
	return s.List(ctx)
}
