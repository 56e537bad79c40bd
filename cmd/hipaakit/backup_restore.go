package main

// `hipaakit backup restore` and `backup drill`: putting a backup back, into
// its place or into scratch space.

import (
	"context"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
)

func (b *backupCmd) restore(ctx context.Context, pos []string, to, toSchema string, toKeystore, force bool) int {
	var sink backup.Sink
	n := 0
	for _, set := range []bool{to != "", toSchema != "", toKeystore} {
		if set {
			n++
		}
	}
	if n != 1 {
		return drFail(b.c, "backup restore", &drUsageError{"give exactly one of --to, --to-schema, --to-keystore"})
	}
	// "latest" means the newest backup this kind of destination accepts.
	kinds := []string{"dir", "audit"}
	if toSchema != "" {
		kinds = []string{"postgres"}
	} else if toKeystore {
		kinds = []string{"keystore"}
	}
	id, err := b.resolve(ctx, pos, false, kinds...)
	if err != nil {
		return b.fail("restore", err)
	}
	var counts func() (restored, shredded int)
	switch {
	case to != "":
		sink = backup.NewDirSink(to)
	case toSchema != "":
		pool, err := needDB(b.tool)
		if err != nil {
			return b.fail("restore", err)
		}
		sink = pgsource.NewSink(pool, toSchema)
	default:
		if sink, counts, err = b.keyStoreSink(ctx); err != nil {
			return b.fail("restore", err)
		}
	}
	rep, err := b.repo.Restore(ctx, id, sink, backup.RestoreOptions{Force: force})
	if err != nil {
		return b.fail("restore", err)
	}
	fmt.Fprintf(b.c.stdout, "%s restored: %d entries, %s in %s\n", id, rep.Entries, human(rep.Bytes), rep.Elapsed.Round(time.Millisecond))
	if counts != nil {
		r, s := counts()
		fmt.Fprintf(b.c.stdout, "key store: %d keysets restored, %d kept shredded by the disposal ledger\n", r, s)
	}
	return exitOK
}

// keyStoreSink restores into the configured key store: in file mode a
// staged copy of the key directory swapped into place atomically, in
// PostgreSQL mode keyset by keyset. Either way the disposal ledger is
// replayed before any keyset is created.
func (b *backupCmd) keyStoreSink(ctx context.Context) (backup.Sink, func() (int, int), error) {
	ledger, err := b.tool.ReadLedger(ctx)
	if err != nil {
		return nil, nil, err
	}
	if b.tool.DB() == nil {
		fs, err := backup.NewFileKeyStoreSink(b.tool.DataPath(hipaakit.DirKeys), ledger)
		return fs, func() (int, int) { return fs.Restored, fs.Shredded }, err
	}
	ks, err := b.tool.Keys()
	if err != nil {
		return nil, nil, err
	}
	s, err := backup.NewKeyStoreSink(ks, ledger)
	return s, func() (int, int) { return s.Restored, s.Shredded }, err
}

func (b *backupCmd) drill(ctx context.Context, pos []string, kind, scratch string) int {
	id, err := b.resolve(ctx, pos, true)
	if err != nil {
		return b.fail("drill", err)
	}
	m, err := b.drillManifest(ctx, id, kind)
	if err != nil {
		return b.fail("drill", err)
	}
	opts, err := b.drillOptions(ctx, m.Source.Kind, scratch)
	if err != nil {
		return b.fail("drill", err)
	}
	opts.ID = m.ID
	rep, err := b.repo.Drill(ctx, opts)
	status := "PASS"
	if !rep.Pass {
		status = "FAIL"
	}
	fmt.Fprintf(b.c.stdout, "%s %s: %d entries, %s; RTO %s; RPO %s\n", rep.ID, status, rep.Entries, human(rep.Bytes),
		rep.RTO.Round(time.Millisecond), rep.RPO.Round(time.Second))
	for _, mm := range rep.Mismatches {
		fmt.Fprintf(b.c.stdout, "  %s\n", mm)
	}
	if err != nil {
		return b.fail("drill", err)
	}
	return exitOK
}

// drillOptions are the drill options of a backup of kind: an audit trail
// must also verify with the CLI's checkpoint key, a key store replays the
// disposal ledger, PostgreSQL restores into a scratch schema.
func (b *backupCmd) drillOptions(ctx context.Context, kind, scratch string) (backup.DrillOptions, error) {
	opts := backup.DrillOptions{ScratchDir: scratch}
	switch kind {
	case "audit":
		keys, err := b.tool.TrustedKeys()
		if err != nil {
			return opts, err
		}
		opts.AuditKeys = keys
	case "keystore":
		var err error
		if opts.Ledger, err = b.tool.ReadLedger(ctx); err != nil {
			return opts, err
		}
	case "postgres":
		pool, err := needDB(b.tool)
		if err != nil {
			return opts, err
		}
		opts.Sink = pgsource.NewScratchSink(pool)
	}
	return opts, nil
}

func (b *backupCmd) drillManifest(ctx context.Context, id, kind string) (*backup.Manifest, error) {
	if id == "" {
		info, err := b.repo.Latest(ctx, kind)
		if err != nil {
			return nil, fmt.Errorf("no backup: %w", err)
		}
		id = info.ID
	}
	return b.repo.Manifest(ctx, id)
}
