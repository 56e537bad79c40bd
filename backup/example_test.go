package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// Example backs up a directory into a directory target, verifies the backup
// and restores it.
func Example() {
	ctx := context.Background()
	work, _ := os.MkdirTemp("", "backup-example-")
	defer os.RemoveAll(work)
	src := filepath.Join(work, "records")
	os.MkdirAll(src, 0o700)
	os.WriteFile(filepath.Join(src, "visit.txt"), []byte("chart notes"), 0o600)

	// In production the KEK is localkek.FromDir(dataDir) or phi/awskms.
	kek, _ := localkek.New(bytes.Repeat([]byte{1}, 32))
	target, _ := backup.NewDirTarget(filepath.Join(work, "repo"))
	repo, err := backup.Init(ctx, target, kek, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "ops"}})
	if err != nil {
		fmt.Println(err)
		return
	}

	m, err := repo.Backup(ctx, backup.DirSource{Root: src, Name: "records"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("entries:", m.Totals.Entries, "bytes:", m.Totals.Bytes)

	rep, err := repo.Verify(ctx, m.ID, backup.VerifyOptions{})
	fmt.Println("verified chunks:", rep.Checked, err)

	dest := filepath.Join(work, "restored")
	if _, err := repo.Restore(ctx, m.ID, backup.NewDirSink(dest), backup.RestoreOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dest, "visit.txt"))
	fmt.Println(string(b))
	// Output:
	// entries: 1 bytes: 11
	// verified chunks: 1 <nil>
	// chart notes
}

// ExampleRepository_Drill restores the newest backup into scratch space and
// compares it with its manifest.
func ExampleRepository_Drill() {
	ctx := context.Background()
	work, _ := os.MkdirTemp("", "drill-example-")
	defer os.RemoveAll(work)
	src := filepath.Join(work, "records")
	os.MkdirAll(src, 0o700)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o600)
	kek, _ := localkek.New(bytes.Repeat([]byte{1}, 32))
	target, _ := backup.NewDirTarget(filepath.Join(work, "repo"))
	repo, _ := backup.Init(ctx, target, kek, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "ops"}})
	repo.Backup(ctx, backup.DirSource{Root: src})

	rep, err := repo.Drill(ctx, backup.DrillOptions{ScratchDir: work})
	fmt.Println("pass:", rep.Pass, "entries:", rep.Entries, "error:", err)
	// Output: pass: true entries: 1 error: <nil>
}

// ExamplePlanPrune decides without I/O which backups a policy keeps.
func ExamplePlanPrune() {
	var infos []backup.Info
	for i, day := range []int{1, 1, 2, 3} {
		infos = append(infos, backup.Info{ID: fmt.Sprint("b", i), Source: backup.SourceInfo{Kind: "dir"},
			Finished: time2026(day, i)})
	}
	for _, d := range backup.PlanPrune(infos, backup.Policy{KeepDaily: 2}, nil) {
		fmt.Println(d.Info.ID, d.Keep, d.Reasons)
	}
	// Output:
	// b0 false []
	// b1 false []
	// b2 true [daily]
	// b3 true [daily]
}

func time2026(day, hour int) time.Time { return time.Date(2026, 1, day, hour, 0, 0, 0, time.UTC) }
