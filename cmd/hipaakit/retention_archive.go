package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/signing"
)

// openArchive opens the audit archive at path (a directory or
// s3://bucket/prefix) with the deployment's signing key.
func openArchive(ctx context.Context, c *cli, t *hipaakit.Tool, path string, after time.Duration) (*archive.Archive, error) {
	key, err := t.SigningKey()
	if err != nil {
		return nil, err
	}
	tgt, err := (&backupCmd{c: c}).target(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open the archive: %w", err)
	}
	keys, err := signing.NewKeySet(key.PublicKey())
	if err != nil {
		return nil, err
	}
	return archive.New(archive.Config{Target: backup.ArchiveTarget(tgt), Keys: keys, Signer: key, After: after})
}

// purgeAuditArchive applies the audit policy to the archive at path, after
// the trail's own purge, through retention.PurgeAuditArchive.
func purgeAuditArchive(ctx context.Context, c *cli, t *hipaakit.Tool, w audit.Writer, reg *retention.Registry, policies retention.Policies, path, stream string, dryRun bool) error {
	a, err := openArchive(ctx, c, t, path, 0)
	if err != nil {
		return err
	}
	rep, err := retention.PurgeAuditArchive(ctx, a, stream, w, policies, reg, time.Now(), dryRun)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "archived units purged: %d (through seq %d), stopped by %s\n", len(rep.Purged), rep.ThroughSeq, rep.StoppedBy)
	return nil
}

// drArchiveAudit runs "hipaakit retention archive-audit": the trail's
// sealed segments (or, on PostgreSQL, the months of --stream) older than
// --after go to the archive.
func drArchiveAudit(ctx context.Context, c *cli, args []string) int {
	const name = "retention archive-audit"
	fs := drFlags(c, name)
	path := fs.String("archive", "", "the archive: a directory or s3://bucket/prefix")
	after := fs.Duration("after", archive.DefaultAfter, "archive what was written at least this long ago")
	stream := fs.String("stream", "", "the stream (PostgreSQL)")
	pos, err := drParse(fs, args)
	if err != nil || len(pos) != 0 || *path == "" {
		fmt.Fprint(c.stderr, retentionUsage)
		return exitUsage
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, name, err)
	}
	defer t.Close()
	a, err := openArchive(ctx, c, t, *path, *after)
	if err != nil {
		return drFail(c, name, err)
	}
	var src archive.Source
	if pool := t.DB(); pool != nil {
		if !audit.ValidStream(*stream) {
			fmt.Fprintf(c.stderr, "hipaakit %s: PostgreSQL needs --stream S\n", name)
			return exitUsage
		}
		src = pgaudit.ArchiveSource(pool, *stream)
	} else {
		w, err := t.Audit(ctx)
		if err != nil {
			return drFail(c, name, err)
		}
		l, ok := w.(archive.FileLog)
		if !ok {
			return drFail(c, name, fmt.Errorf("the audit trail is not a file log: %w", audit.ErrNoTree))
		}
		src = archive.FileSource(l)
	}
	rep, err := a.Archive(ctx, src)
	if err != nil {
		return drFail(c, name, err)
	}
	last := uint64(0)
	if n := len(rep.Archived); n > 0 {
		last = rep.Archived[n-1].Last
	}
	fmt.Fprintf(c.stdout, "audit stream %s: %d units archived (through seq %d)\n", rep.Stream, len(rep.Archived), last)
	return exitOK
}
