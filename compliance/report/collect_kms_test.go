package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/awskms/kmstest"
)

// TestCollectBackupWithKMS opens a backup repository whose key is wrapped by
// AWS KMS (a fake KMS on loopback), with credentials from the SDK's default
// chain, and reports a key the KMS cannot use as a note.
func TestCollectBackupWithKMS(t *testing.T) {
	srv := kmstest.NewServer(t)
	isolateAWS(t, "test", "test", "us-east-1")
	ctx := context.Background()
	kek, err := awskms.New(srv.Config(), awskms.Config{KeyID: srv.KeyARN()})
	must(t, err)
	dir := t.TempDir()
	target, err := backup.NewDirTarget(filepath.Join(dir, "backups"))
	must(t, err)
	repo, err := backup.Init(ctx, target, kek, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "system:backup"}})
	must(t, err)
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "record.json"), []byte(canaryPHI), 0o600))
	_, err = repo.Backup(ctx, backup.DirSource{Root: src, Kind: "dir", Name: "records"})
	must(t, err)

	cfg := (&deployment{dir: dir, pub: make([]byte, 32)}).config()
	cfg.KEK, cfg.KEKFile, cfg.KMSEndpoint = "aws-kms:"+srv.KeyARN(), "", srv.URL()
	ev, err := report.Collect(ctx, cfg, time.Now())
	must(t, err)
	if b := ev.Backup; b == nil || b.Backups != 1 || b.LastBackup.IsZero() || b.LedgerReplayed {
		t.Fatalf("backup through KMS: %+v (notes %q)", b, ev.Notes)
	}
	if !strings.Contains(strings.Join(ev.Notes, "\n"), "no key store backup") {
		t.Errorf("notes: %q", ev.Notes)
	}

	other, err := srv.AddKey("other-key", make([]byte, 32))
	must(t, err)
	cfg.KEK = "aws-kms:" + other
	ev, err = report.Collect(ctx, cfg, time.Now())
	must(t, err)
	if ev.Backup != nil || !strings.Contains(strings.Join(ev.Notes, "\n"), "backup: the repository cannot be opened") {
		t.Fatalf("another KMS key: %+v, notes %q", ev.Backup, ev.Notes)
	}
}
