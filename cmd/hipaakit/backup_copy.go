package main

// `hipaakit backup copy`.

import (
	"context"
	"errors"
	"fmt"

	"github.com/hipaakit/hipaakit/backup"
)

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
	dst, err := b.destination(ctx, toRepo)
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

// destination opens (or creates) the repository at toRepo with the same
// master key, audit trail and actor.
func (b *backupCmd) destination(ctx context.Context, toRepo string) (*backup.Repository, error) {
	kek, err := b.kek()
	if err != nil {
		return nil, err
	}
	tg, err := b.target(ctx, toRepo)
	if err != nil {
		return nil, err
	}
	dst, err := backup.Open(ctx, tg, kek, b.cfg)
	if errors.Is(err, backup.ErrNotFound) {
		dst, err = backup.Init(ctx, tg, kek, b.cfg)
	}
	return dst, err
}
