package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// reportActor is the actor a backup repository would record; Collect only
// lists, which records nothing.
var reportActor = audit.Actor{UserID: "system:report"}

// backupEvidence lists the backup repository and matches its restore drills
// in the audit trail.
func (c *collector) backupEvidence(ctx context.Context, scan *auditScan) {
	if c.cfg.Backup.Target == "none" {
		c.note("backup: the configuration names no backup target")
		return
	}
	b := &BackupEvidence{Target: c.cfg.Backup.Target}
	target, err := c.backupTarget(ctx)
	if errors.Is(err, errNoStore) {
		c.note("backup: the backup directory does not exist, so no backup was made to it")
		c.ev.Backup = b
		return
	}
	if err != nil {
		c.note("backup: %v", err)
		return
	}
	kek, err := c.kek(ctx)
	if err != nil {
		c.note("backup: the repository cannot be opened without the KEK: %v", err)
		return
	}
	repo, err := backup.Open(ctx, target, kek, backup.Config{Audit: audit.Discard{}, Actor: reportActor})
	if errors.Is(err, backup.ErrNotFound) {
		c.note("backup: the backup target holds no repository, so no backup was made to it")
		c.ev.Backup = b
		return
	}
	if err != nil {
		c.note("backup: the repository cannot be opened: %v", err)
		return
	}
	listing, err := repo.ListReport(ctx)
	if err != nil {
		c.note("backup: the repository cannot be listed: %v", err)
		return
	}
	// A damaged manifest is a backup that cannot be restored: it is not
	// counted, and it is named so the report flags the repository.
	for _, p := range listing.Damaged {
		b.Damaged = append(b.Damaged, p.Object+": "+p.Err.Error())
	}
	b.Backups = len(listing.Backups)
	keystore := false
	for _, in := range listing.Backups {
		b.LastBackup = later(b.LastBackup, in.Finished)
		b.LastVerified = later(b.LastVerified, in.Verified)
		keystore = keystore || in.Source.Kind == "keystore"
	}
	// backup.KeyStoreSink, the only restore path for a key store backup,
	// refuses to run without the disposal ledger and replays it before it
	// creates a keyset.
	b.LedgerReplayed = keystore
	if !keystore {
		c.note("backup: the repository holds no key store backup; restoring keys through backup.KeyStoreSink is what replays the disposal ledger")
	}
	if d, ok := scan.drills[repo.ID()]; ok {
		b.LastDrill, b.LastDrillPass, b.LastDrillRTO = d.at, d.pass, d.rto
	}
	if d, ok := scan.setDrills[repo.ID()]; ok {
		b.LastSetDrill, b.LastSetDrillPass, b.SetDrillCovers = d.at, d.pass, d.covers
	}
	if !scan.ok {
		c.note("backup: restore drills are read from the audit trail, which could not be read in full")
	}
	c.ev.Backup = b
}

// backupTarget opens the configured target without creating anything: a
// missing backup directory is errNoStore.
func (c *collector) backupTarget(ctx context.Context) (backup.Target, error) {
	b := c.cfg.Backup
	if b.Target == "s3" {
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, errors.New("report: load the AWS configuration for the S3 target: " + err.Error())
		}
		region := b.Region
		if region == "" {
			region = awsCfg.Region
		}
		client, err := s3target.NewClient(s3target.ClientOptions{Endpoint: b.Endpoint, Region: region, Credentials: awsCfg.Credentials})
		if err != nil {
			return nil, err
		}
		return s3target.New(client, s3target.Config{Bucket: b.Bucket, Prefix: b.Prefix})
	}
	dir := b.Dir
	if dir == "" {
		dir = defaultBackupDir(c.cfg.DataDir)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, errNoStore
	}
	return backup.NewDirTarget(dir) // the directory exists: nothing is created
}

// kek returns the key-encryption key that opens the backup repository: the
// run-time master key, the local key file, or AWS KMS.
func (c *collector) kek(ctx context.Context) (phi.KEK, error) {
	if id, ok := strings.CutPrefix(c.cfg.KEK, "aws-kms:"); ok {
		return awskms.LoadDefault(ctx, awskms.Config{KeyID: id, Endpoint: c.cfg.KMSEndpoint, Region: c.cfg.KMSRegion})
	}
	if c.cfg.MasterKey != "" {
		return localkek.Parse(c.cfg.MasterKey)
	}
	path := c.cfg.KEKFile
	if path == "" {
		if c.cfg.DataDir == "" {
			return nil, errors.New("report: no master key given and no kek_file or data_dir to read it from")
		}
		path = hipaakit.KeyLocation(hipaakit.Config{DataDir: c.cfg.DataDir}).File
	}
	// Read the file here rather than with localkek.FromFile, which creates a
	// key when the file is missing.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("report: master key file: %w", durable.WithoutPath(err))
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("report: the master key file is accessible by group or others (mode %v); chmod 600 it", st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: master key file: %w", durable.WithoutPath(err))
	}
	defer clear(b)
	return localkek.Parse(string(b))
}

// keyInDataDir reports whether a local master key file is kept inside the
// data directory: kek_file when it names a file there, or the legacy
// <data_dir>/kek.key when it exists (also when the key is given at run
// time: the file is still there for a copy of the directory to take).
func (c *collector) keyInDataDir() bool {
	if c.cfg.DataDir == "" {
		return false
	}
	if _, err := os.Lstat(filepath.Join(c.cfg.DataDir, hipaakit.FileLegacyKEK)); err == nil {
		return true
	}
	if c.cfg.KEK != "local" || c.cfg.KEKFile == "" {
		return false
	}
	if _, err := os.Lstat(c.cfg.KEKFile); err != nil {
		return false
	}
	return hipaakit.KeyLocation(hipaakit.Config{DataDir: c.cfg.DataDir, KEK: hipaakit.KEKConfig{KeyFile: c.cfg.KEKFile}}).InsideDataDir
}

// defaultBackupDir is the backup directory of a deployment whose
// configuration names none: the legacy <data_dir>/backups when it exists,
// else hipaakit.Open's default beside the data directory.
func defaultBackupDir(dataDir string) string {
	legacy := filepath.Join(dataDir, hipaakit.DirLegacyBackups)
	if _, err := os.Stat(legacy); err == nil {
		return legacy
	}
	return hipaakit.DefaultBackupDir(dataDir)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
