package backup_test

import (
	"testing"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/backuptest"
)

func TestDirTargetConformance(t *testing.T) {
	backuptest.Run(t, func(t *testing.T) backup.Target {
		tg, err := backup.NewDirTarget(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return tg
	})
}
