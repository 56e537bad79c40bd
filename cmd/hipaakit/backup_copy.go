package main

// `hipaakit backup create --all` (a backup set) and `hipaakit backup copy`.

import (
	"context"
	"errors"
	"fmt"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
)

// createSet backs up the deployment's sources as one set.
func (b *backupCmd) createSet(ctx context.Context, path, schema, tables, name string) int {
	ks, err := b.tool.Keys()
	if err != nil {
		return b.fail("create", err)
	}
	srcs := []backup.Source{backup.KeyStoreSource{Store: ks, Name: "keys"}}
	if b.tool.DataPath("") != "" {
		srcs = append(srcs, backup.AuditSource(b.tool.DataPath(hipaakit.DirAudit)))
	}
	if path != "" {
		srcs = append(srcs, backup.DirSource{Root: path})
	}
	if schema != "" {
		pool, err := needDB(b.tool)
		if err != nil {
			return b.fail("create", err)
		}
		srcs = append(srcs, pgsource.Source{Pool: pool, Schema: schema, Tables: drSplit(tables)})
	}
	if name == "" {
		name = "deployment"
	}
	s, err := b.repo.BackupSet(ctx, backup.SetConfig{Name: name, Sources: srcs})
	if err != nil {
		return b.fail("create", err)
	}
	fmt.Fprintln(b.c.stdout, s.ID)
	for _, m := range s.Members {
		fmt.Fprintf(b.c.stdout, "  %s %s\n", m.ID, m.Source.Kind)
	}
	return exitOK
}

// copy copies backups to the repository at toRepo, opened (or created) with
// the same master key, audit trail and actor.
func (b *backupCmd) copy(ctx context.Context, pos []string, toRepo string) int {
	if toRepo == "" {
		return drFail(b.c, "backup copy", &drUsageError{"copy needs --to-repo"})
	}
	var ids []string
	if len(pos) == 1 && pos[0] == "all" {
		infos, err := b.repo.List(ctx)
		if err != nil {
			return b.fail("copy", err)
		}
		for _, i := range infos {
			ids = append(ids, i.ID)
		}
	} else {
		id, err := b.resolve(ctx, pos, false)
		if err != nil {
			return b.fail("copy", err)
		}
		ids = []string{id}
	}
	kek, err := b.kek()
	if err != nil {
		return b.fail("copy", err)
	}
	tg, err := b.target(ctx, toRepo)
	if err != nil {
		return b.fail("copy", err)
	}
	dst, err := backup.Open(ctx, tg, kek, b.cfg)
	if errors.Is(err, backup.ErrNotFound) {
		dst, err = backup.Init(ctx, tg, kek, b.cfg)
	}
	if err != nil {
		return b.fail("copy", err)
	}
	for _, id := range ids {
		rep, err := backup.Copy(ctx, b.repo, dst, id)
		if err != nil && !errors.Is(err, backup.ErrMarkerNotWritten) {
			return b.fail("copy", err)
		}
		state := "copied"
		if !rep.Copied {
			state = "already there"
		}
		t := rep.Manifest.Totals
		fmt.Fprintf(b.c.stdout, "%s %s, verified: %s, %d new chunks (%s stored)\n", id, state, human(rep.Verify.Bytes), t.NewChunks, human(t.NewStored))
		if err != nil {
			return b.fail("copy", err)
		}
	}
	return exitOK
}
