package report_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// TestCollectBackupS3 lists a repository in an S3 bucket with credentials
// from the AWS SDK's default chain; an empty bucket is "no backup".
func TestCollectBackupS3(t *testing.T) {
	srv := hipaakittest.S3(t)
	isolateAWS(t, srv.AccessKey, srv.SecretKey, srv.Region)
	ctx := context.Background()
	dir := t.TempDir()
	kek, err := localkek.FromFile(keyFile(dir))
	must(t, err)
	cfg := (&deployment{dir: dir, pub: make([]byte, 32)}).config()
	cfg.Backup = serviceconfig.Backup{Target: "s3", Bucket: srv.Bucket(t, false), Prefix: "clinic/", Endpoint: srv.Endpoint}

	ev, err := report.Collect(ctx, cfg, time.Now())
	must(t, err)
	if b := ev.Backup; b == nil || b.Backups != 0 || b.Target != "s3" || !strings.Contains(strings.Join(ev.Notes, "\n"), "holds no repository") {
		t.Fatalf("empty bucket: %+v, notes %q", b, ev.Notes)
	}

	client, err := s3target.NewClient(s3target.ClientOptions{Endpoint: srv.Endpoint, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	must(t, err)
	target, err := s3target.New(client, s3target.Config{Bucket: cfg.Backup.Bucket, Prefix: cfg.Backup.Prefix})
	must(t, err)
	repo, err := backup.Init(ctx, target, kek, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "system:backup"}})
	must(t, err)
	keys, err := filestore.Open(filepath.Join(dir, "keys"), filestore.Config{})
	must(t, err)
	m, err := repo.Backup(ctx, backup.KeyStoreSource{Store: keys, Name: "keys"})
	must(t, err)
	_, err = repo.Verify(ctx, m.ID, backup.VerifyOptions{})
	must(t, err)

	ev, err = report.Collect(ctx, cfg, time.Now())
	must(t, err)
	if b := ev.Backup; b == nil || b.Backups != 1 || b.LastVerified.IsZero() || !b.LedgerReplayed || !b.LastDrill.IsZero() {
		t.Fatalf("bucket with one verified backup: %+v, notes %q", b, ev.Notes)
	}
}
