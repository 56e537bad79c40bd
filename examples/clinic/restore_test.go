package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/clock"
)

// TestRestoreAfterShredKeepsPatientGone: a backup made before a patient was
// shredded restores every other patient and never that one.
func TestRestoreAfterShredKeepsPatientGone(t *testing.T) {
	onEveryStore(t, testRestoreAfterShredKeepsPatientGone)
}

func testRestoreAfterShredKeepsPatientGone(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	gone := newPatient(t, doc, "MRN-9101", "Shredded After Backup")
	kept := newPatient(t, doc, "MRN-9102", "Survives Restore")

	admin := tc.login(roleAdmin)
	var made struct{ Backups []string }
	admin.mustStatus(http.StatusCreated, "POST", "/api/backups", nil, &made)
	if len(made.Backups) != len(tc.app.d.BackupSources) {
		t.Fatalf("backups: %v", made.Backups)
	}
	keysBackup := made.Backups[1] // the key store is the second source in both modes
	var ver struct{ OK bool }
	admin.mustStatus(http.StatusOK, "POST", "/api/backups/"+keysBackup+"/verify", nil, &ver)
	if !ver.OK {
		t.Fatal("a fresh backup does not verify")
	}
	var drill struct {
		Pass   bool
		Drills []struct{ Kind string }
	}
	admin.mustStatus(http.StatusOK, "POST", "/api/backups/drill", nil, &drill)
	if !drill.Pass || len(drill.Drills) != len(tc.app.d.BackupSources) {
		t.Fatalf("the restore drill failed: %+v", drill)
	}
	admin.mustStatus(http.StatusOK, "POST", "/api/patients/"+gone+"/shred", map[string]string{"reason": "patient request"}, nil)
	doc.mustStatus(http.StatusGone, "GET", "/api/patients/"+gone, nil, nil)

	// Disaster: the key store is lost and comes back from the backup made
	// before the shred.
	clk, users := tc.clock, tc.users
	tc.stop()
	s.loseKeys(t)
	restoreKeys(t, s.cfg, clk, keysBackup)

	tc2 := startClinicWith(t, s.cfg, clk, users)
	doc2 := tc2.login(rolePhysician)
	doc2.mustStatus(http.StatusOK, "GET", "/api/patients/"+kept, nil, nil)
	doc2.mustStatus(http.StatusGone, "GET", "/api/patients/"+gone, nil, nil)
}

// restoreKeys restores a key-store backup into the (emptied) key store the
// way an operator would: through the disposal ledger, which the sink replays
// before any keyset is created.
func restoreKeys(t *testing.T, cfg config, clk clock.Clock, id string) {
	t.Helper()
	ctx := context.Background()
	a, err := openApp(ctx, cfg, clk, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sink, err := backup.NewKeyStoreSink(a.d.Keys, a.d.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.d.Backups.Restore(ctx, id, sink, backup.RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if sink.Restored == 0 || sink.Shredded == 0 {
		t.Fatalf("restore: %d keysets restored, %d refused as shredded; want some of each", sink.Restored, sink.Shredded)
	}
}
