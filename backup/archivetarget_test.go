package backup_test

import (
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit/archive/archivetest"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/clock"
)

// TestArchiveToDirTarget archives an audit log into a directory target.
func TestArchiveToDirTarget(t *testing.T) {
	tgt, err := backup.NewDirTarget(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	archivetest.Run(t, backup.ArchiveTarget(tgt), clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)))
}
