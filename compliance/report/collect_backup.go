package report

import (
	"context"
	"errors"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/backup"
)

// backupEvidence lists the backup repository and matches its restore drills
// in the audit trail.
func (c *collector) backupEvidence(ctx context.Context, scan *auditScan) {
	if c.cfg.Backup.Target == "none" {
		c.note("backup: the configuration names no backup target")
		return
	}
	b := &BackupEvidence{Target: c.cfg.Backup.Target}
	if _, err := c.in.BackupTarget(ctx); errors.Is(err, hipaakit.ErrMissing) {
		c.note("backup: the backup directory does not exist, so no backup was made to it")
		c.ev.Backup = b
		return
	} else if err != nil {
		c.note("backup: %v", err)
		return
	}
	if _, err := c.in.KEK(ctx); err != nil {
		c.note("backup: the repository cannot be opened without the KEK: %v", err)
		return
	}
	repo, err := c.in.Backups(ctx)
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

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
