package main

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/internal/clock"
)

// TestRestoreAfterShredKeepsPatientGone: a backup made before a patient was
// shredded restores every other patient and never that one.
func TestRestoreAfterShredKeepsPatientGone(t *testing.T) {
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	gone := newPatient(t, doc, "MRN-9101", "Shredded After Backup")
	kept := newPatient(t, doc, "MRN-9102", "Survives Restore")

	admin := tc.login(roleAdmin)
	var made struct{ Backups []string }
	admin.mustStatus(http.StatusCreated, "POST", "/api/backups", nil, &made)
	if len(made.Backups) != 3 {
		t.Fatalf("backups: %v", made.Backups)
	}
	keysBackup := made.Backups[1]
	var ver struct{ OK bool }
	admin.mustStatus(http.StatusOK, "POST", "/api/backups/"+keysBackup+"/verify", nil, &ver)
	if !ver.OK {
		t.Fatal("a fresh backup does not verify")
	}
	var drill struct{ Pass bool }
	admin.mustStatus(http.StatusOK, "POST", "/api/backups/drill", nil, &drill)
	if !drill.Pass {
		t.Fatal("the restore drill failed")
	}
	admin.mustStatus(http.StatusOK, "POST", "/api/patients/"+gone+"/shred", map[string]string{"reason": "patient request"}, nil)
	doc.mustStatus(http.StatusGone, "GET", "/api/patients/"+gone, nil, nil)

	// Disaster: the key store is lost and comes back from the backup made
	// before the shred.
	dir, clk, users := tc.dir, tc.clock, tc.users
	tc.stop()
	keysDir := filepath.Join(dir, "keys")
	if err := os.RemoveAll(keysDir); err != nil {
		t.Fatal(err)
	}
	restoreKeys(t, dir, keysBackup)

	tc2 := startClinic(t, dir, clk, users)
	doc2 := tc2.login(rolePhysician)
	doc2.mustStatus(http.StatusOK, "GET", "/api/patients/"+kept, nil, nil)
	doc2.mustStatus(http.StatusGone, "GET", "/api/patients/"+gone, nil, nil)
}

// restoreKeys restores a key-store backup into dir/keys the way an operator
// would: through the disposal ledger, which the sink replays before the
// restored store is handed back.
func restoreKeys(t *testing.T, dir, id string) {
	t.Helper()
	ctx := context.Background()
	a := &app{cfg: testConfig(dir), clock: clock.System}
	defer a.Close()
	var err error
	if a.signKey, err = loadSigningKey(filepath.Join(dir, "signing.key")); err != nil {
		t.Fatal(err)
	}
	pub := a.signKey.Public().(ed25519.PublicKey)
	if err := a.openKeys(); err != nil {
		t.Fatal(err)
	}
	if err := a.openAudit(ctx); err != nil {
		t.Fatal(err)
	}
	target, err := backup.NewDirTarget(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := backup.Open(ctx, target, a.kek, backup.WithAudit(a.auditLog, audit.Actor{UserID: "operator"}))
	if err != nil {
		t.Fatal(err)
	}
	lstore, err := disposal.OpenFileLedgerReader(ctx, filepath.Join(dir, "ledger"), disposal.FileLedgerOptions{Keys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	ledger := disposal.NewLedger(lstore)
	defer ledger.Close()
	sink, err := backup.NewKeyStoreSink(a.keys, ledger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Restore(ctx, id, sink, backup.RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
}
