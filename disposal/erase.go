package disposal

import (
	"context"
	"errors"
	"fmt"
	"github.com/hipaakit/hipaakit/durable"
	"io/fs"
	"os"
)

// ErrNotRegularFile reports an Erase of something that is not a regular file
// (a directory, a device, a socket); Erase refuses it.
var ErrNotRegularFile = errors.New("disposal: not a regular file")

// Erase deletes the file at path and fsyncs its directory, so that the
// deletion survives a crash. Erasing a path that does not exist succeeds
// (Erase is idempotent). It does not follow a final symbolic link: the link
// itself is removed.
//
// # What Erase does not do
//
// Erase does not overwrite the file's blocks. Overwriting in place is not a
// reliable disposal method on modern storage: SSDs remap writes to fresh
// flash pages (wear levelling) and keep the old ones until garbage
// collection, copy-on-write file systems (btrfs, ZFS, APFS) and snapshots
// write new blocks instead of replacing old ones, and journals, backups and
// replicas keep their own copies. Erase therefore only makes the file
// unreachable through the file system. For PHI, prefer cryptographic erase
// (Shredder.Shred): data sealed under a subject's key becomes unreadable in
// every copy once the key is destroyed. Use Erase for files that were never
// sealed (exports, temporary files), and rely on full-disk encryption and
// media sanitization (NIST SP 800-88) for what remains on the device.
func Erase(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return pathless(err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0 {
		return ErrNotRegularFile
	}
	if err := durable.RemoveDurable(path); err != nil {
		return pathless(err)
	}
	return nil
}

// pathless reports err without the path it may carry: file names can hold
// identifiers that are PHI.
func pathless(err error) error {
	return fmt.Errorf("disposal: erase: %w", durable.WithoutPath(err))
}
