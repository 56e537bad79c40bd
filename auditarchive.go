package hipaakit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/durable"
)

// AuditArchiveConfig archives the audit trail (audit/archive): in every
// housekeeping pass (Deployment.Sweep) the embedded log's sealed segments,
// or on PostgreSQL the months of every audit stream of the schema, whose
// records were all written at least After ago, go to the target with their
// Merkle-tree tiles and a signed checkpoint, where they verify on their own
// ("hipaakit audit archive-verify"). The trail itself is not shortened:
// purging archived data goes through the retention path after its
// retention. At most one of Dir, InBackupTarget and Target is set; none:
// no archive.
type AuditArchiveConfig struct {
	// Dir archives into this directory (created when missing), which must
	// be outside the data directory.
	Dir string
	// InBackupTarget archives into the deployment's backup target
	// (Backup.Dir or Backup.S3Bucket; on S3 with object lock every object
	// is retained until the end of its records' retention).
	InBackupTarget bool
	// Target archives into any archive target, for example
	// backup.ArchiveTarget over an s3target.Target of its own.
	Target archive.Target
	// After is the age past which records are archived (zero:
	// archive.DefaultAfter, 30 days).
	After time.Duration
	// Retention is how long archived objects are retained from when their
	// records were written (zero: six calendar years).
	Retention time.Duration
}

// set reports whether an archive target is configured.
func (a AuditArchiveConfig) set() bool { return a.Dir != "" || a.InBackupTarget || a.Target != nil }

// validateAuditArchive refuses an ambiguous or unsafe archive setting.
func (c Config) validateAuditArchive() error {
	a := c.AuditArchive
	n := 0
	for _, set := range []bool{a.Dir != "", a.InBackupTarget, a.Target != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return &ConfigError{Field: "AuditArchive", Problem: "more than one archive target is set",
			Fix: "set one of AuditArchive.Dir, AuditArchive.InBackupTarget and AuditArchive.Target"}
	case n == 0 && (a.After != 0 || a.Retention != 0):
		return &ConfigError{Field: "AuditArchive", Problem: "an age or retention is set without an archive target",
			Fix: "set AuditArchive.Dir, InBackupTarget or Target, or leave AuditArchive empty"}
	case a.After < 0 || a.Retention < 0:
		return &ConfigError{Field: "AuditArchive.After", Problem: "After or Retention is negative",
			Fix: "leave them zero (30 days, six years) or give positive durations"}
	case a.Dir != "" && c.DataDir != "" && within(c.DataDir, a.Dir):
		return &ConfigError{Field: "AuditArchive.Dir", Problem: "the archive directory is inside the data directory",
			Fix: "choose a directory outside DataDir, ideally on another disk (or AuditArchive.InBackupTarget)"}
	}
	return nil
}

// openAuditArchive builds the archive of Config.AuditArchive (signed with
// the deployment's key, verified with TrustedKeys); Sweep runs it.
func (d *Deployment) openAuditArchive() error {
	a := d.cfg.AuditArchive
	if !a.set() {
		return nil
	}
	tgt := a.Target
	switch {
	case a.InBackupTarget:
		tgt = backup.ArchiveTarget(d.backupTgt)
	case a.Dir != "":
		dt, err := backup.NewDirTarget(a.Dir)
		if err != nil {
			return fmt.Errorf("hipaakit: audit archive directory: %w", durable.WithoutPath(err))
		}
		tgt = backup.ArchiveTarget(dt)
	}
	arc, err := d.NewArchive(archive.Config{Target: tgt, After: a.After, Retention: a.Retention})
	if err != nil {
		return fmt.Errorf("hipaakit: audit archive: %w", err)
	}
	d.auditArchive = arc
	return nil
}

// AuditArchive returns the archive of Config.AuditArchive (to verify,
// read or prove from it), or ErrNoAuditArchive.
func (d *Deployment) AuditArchive() (*archive.Archive, error) {
	if d.auditArchive == nil {
		return nil, ErrNoAuditArchive
	}
	return d.auditArchive, nil
}

// archiveLockSQL takes the schema's archive lock for the session: one
// replica archives at a time, the others skip the pass.
const archiveLockSQL = `SELECT pg_try_advisory_lock(hashtextextended('hipaakit/audit/archive/' || current_schema(), 0))`
const archiveUnlockSQL = `SELECT pg_advisory_unlock(hashtextextended('hipaakit/audit/archive/' || current_schema(), 0))`

// archiveAudit is the housekeeping's archive step. Embedded: the file
// log's sealed segments. PostgreSQL: every audit stream of the schema
// (also those of replicas that are gone), by one replica at a time under
// an advisory lock, so each unit is written once; a replica finding the
// lock taken skips the pass (the holder archives the same streams).
func (d *Deployment) archiveAudit(ctx context.Context) error {
	if d.DB == nil {
		src, err := d.ArchiveSource()
		if err != nil {
			return err
		}
		return d.archiveStream(ctx, src, audit.DefaultStream)
	}
	conn, err := d.DB.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("hipaakit: audit archive: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, archiveLockSQL).Scan(&locked); err != nil {
		return fmt.Errorf("hipaakit: audit archive lock: %w", err)
	}
	if !locked {
		return nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, archiveUnlockSQL); err != nil {
			conn.Conn().Close(uctx) // the server drops the lock with the session
		}
	}()
	rows, err := conn.Query(ctx, `SELECT stream FROM hipaakit_audit_streams ORDER BY stream`)
	if err != nil {
		return fmt.Errorf("hipaakit: audit archive: list streams: %w", err)
	}
	var streams []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("hipaakit: audit archive: list streams: %w", err)
		}
		streams = append(streams, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("hipaakit: audit archive: list streams: %w", err)
	}
	var errs []error
	for _, s := range streams {
		errs = append(errs, d.archiveStream(ctx, pgaudit.ArchiveSource(d.DB, s), s))
	}
	return errors.Join(errs...)
}

// archiveStream archives one stream; a stream without a signed tree
// checkpoint yet has nothing to archive.
func (d *Deployment) archiveStream(ctx context.Context, src archive.Source, stream string) error {
	rep, err := d.auditArchive.Archive(ctx, src)
	if errors.Is(err, audit.ErrNoTree) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hipaakit: archive audit stream %s: %w", stream, err)
	}
	if len(rep.Archived) > 0 {
		d.Logger.Info("hipaakit: archived audit records", "stream", stream, "units", len(rep.Archived),
			"through_seq", rep.Archived[len(rep.Archived)-1].Last)
	}
	return nil
}
