package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// ExampleRepository_ListReport lists the backups and names a damaged
// manifest instead of failing; Verify of that backup reports it too.
func ExampleRepository_ListReport() {
	ctx := context.Background()
	work, _ := os.MkdirTemp("", "backup-example-")
	defer os.RemoveAll(work)
	src := filepath.Join(work, "records")
	os.MkdirAll(src, 0o700)
	os.WriteFile(filepath.Join(src, "visit.txt"), []byte("chart notes"), 0o600)
	kek, _ := localkek.New(bytes.Repeat([]byte{1}, 32))
	target, _ := backup.NewDirTarget(filepath.Join(work, "repo"))
	repo, _ := backup.Init(ctx, target, kek, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "ops"}})
	a, _ := repo.Backup(ctx, backup.DirSource{Root: src, Name: "records"})
	repo.Backup(ctx, backup.DirSource{Root: src, Name: "records"})
	target.Put(ctx, "manifests/"+a.ID, []byte("torn upload"))

	l, err := repo.ListReport(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("backups:", len(l.Backups), "damaged:", len(l.Damaged))
	for _, p := range l.Damaged {
		fmt.Println(p.Object == "manifests/"+a.ID, errors.Is(p.Err, backup.ErrCorrupt))
	}
	_, err = repo.Verify(ctx, a.ID, backup.VerifyOptions{})
	fmt.Println(errors.Is(err, backup.ErrVerifyFailed))
	// Output:
	// backups: 1 damaged: 1
	// true true
	// true
}

// ExampleMarkerError tells a passed verification whose record could not be
// written (a read-only target) from a failed one.
func ExampleMarkerError() {
	var err error = &backup.MarkerError{ID: "0123456789abcdef0123456789abcdef", Err: errors.New("read-only file system")}
	var me *backup.MarkerError
	switch {
	case errors.As(err, &me):
		fmt.Println("passed; not recorded:", me.ID)
	case errors.Is(err, backup.ErrVerifyFailed):
		fmt.Println("failed")
	}
	fmt.Println(err)
	// Output:
	// passed; not recorded: 0123456789abcdef0123456789abcdef
	// backup: 0123456789abcdef0123456789abcdef passed, but its record verified/0123456789abcdef0123456789abcdef was not written: read-only file system
}
