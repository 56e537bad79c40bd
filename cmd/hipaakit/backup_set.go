package main

// Backup sets: `backup create --all` (the whole deployment as one set) and
// `backup restore|drill|copy --set`.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/signing"
)

// createSet backs up the whole deployment (hipaakit.SetSources: the data
// directory's stores, or the PostgreSQL schemas) as one set, with --path
// and --schema as further records.
func (b *backupCmd) createSet(ctx context.Context, path, schema, tables, name string) int {
	if b.tool.DataPath("") == "" && b.tool.DB() == nil {
		return drFail(b.c, "backup create", &drUsageError{"create --all needs HIPAAKIT_DATA_DIR or " + envDatabaseURL})
	}
	src, err := b.setSources(ctx)
	if err != nil {
		return b.fail("create", err)
	}
	cfg := src.SetConfig()
	if path != "" {
		cfg.Parts = append(cfg.Parts, backup.SetPart{Source: backup.DirSource{Root: path}, Covers: []string{hipaakit.PartRecords}})
	}
	if schema != "" {
		pool, err := needDB(b.tool)
		if err != nil {
			return b.fail("create", err)
		}
		cfg.Parts = append(cfg.Parts, backup.SetPart{Source: pgsource.Source{Pool: pool, Schema: schema, Tables: drSplit(tables)},
			Covers: []string{hipaakit.PartRecords}})
	}
	if name != "" {
		cfg.Name = name
	}
	s, err := b.repo.BackupSet(ctx, cfg)
	if err != nil {
		return b.fail("create", err)
	}
	fmt.Fprintln(b.c.stdout, s.ID)
	for _, m := range s.Members {
		fmt.Fprintf(b.c.stdout, "  %s %s %s\n", m.ID, m.Source.Kind, strings.Join(m.Covers, ","))
	}
	return exitOK
}

// setSources are the deployment's, as hipaakit.Open would back them up.
func (b *backupCmd) setSources(ctx context.Context) (hipaakit.SetSources, error) {
	var src hipaakit.SetSources
	ks, err := b.tool.Keys()
	if err != nil {
		return src, err
	}
	trusted, err := b.tool.TrustedKeys()
	if err != nil {
		return src, err
	}
	src = hipaakit.SetSources{DataDir: b.tool.DataPath(""), Keys: ks, Trusted: trusted}
	if pool := b.tool.DB(); pool != nil {
		main, err := currentSchema(ctx, pool)
		if err != nil {
			return src, err
		}
		src.DB, src.Schema, src.LedgerSchema = pool, main, main+hipaakit.LedgerSchemaSuffix
	}
	return src, nil
}

func currentSchema(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var schema *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("read the schema: %w", err)
	}
	if schema == nil {
		return "", errors.New("the search_path of " + envDatabaseURL + " names no existing schema")
	}
	return *schema, nil
}

// resolveSet turns ID|latest (or nothing) into a set.
func (b *backupCmd) resolveSet(ctx context.Context, pos []string) (*backup.Set, error) {
	if len(pos) > 1 {
		return nil, &drUsageError{"at most one set ID"}
	}
	if len(pos) == 1 && pos[0] != "latest" {
		return b.repo.Set(ctx, pos[0])
	}
	sets, err := b.repo.ListSets(ctx)
	if err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("no backup set: %w", backup.ErrNotFound)
	}
	return sets[len(sets)-1], nil
}

// restoreSet restores every member of a set into a new deployment: the
// directory members under to (each in the directory its name gives, the
// audit trail in audit/), the PostgreSQL members into toSchema (the
// disposal ledger's into toSchema plus hipaakit.LedgerSchemaSuffix), and
// the key store last — into to/keys, or into toSchema on PostgreSQL —
// replaying the disposal ledger it restored, and the configured one when
// there is one, before any keyset is created.
func (b *backupCmd) restoreSet(ctx context.Context, pos []string, to, toSchema string, force bool) int {
	s, err := b.resolveSet(ctx, pos)
	if err != nil {
		return b.fail("restore", err)
	}
	pg := slices.ContainsFunc(s.Members, func(m backup.SetMember) bool { return m.Source.Kind == "postgres" })
	if to == "" || pg && toSchema == "" {
		return drFail(b.c, "backup restore", &drUsageError{"restore --set needs --to DIR (and --to-schema S for a set with PostgreSQL members)"})
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return b.fail("restore", fmt.Errorf("create the destination: %w", durable.WithoutPath(err)))
	}
	members := slices.Clone(s.Members)
	// The key store last, after the ledger it replays.
	slices.SortStableFunc(members, func(x, y backup.SetMember) int {
		return boolInt(x.Source.Kind == "keystore") - boolInt(y.Source.Kind == "keystore")
	})
	trusted, err := b.tool.TrustedKeys()
	if err != nil {
		return b.fail("restore", err)
	}
	for _, m := range members {
		sink, report, err := b.setMemberSink(ctx, s, m, to, toSchema, trusted)
		if err != nil {
			return b.fail("restore", err)
		}
		rep, err := b.repo.Restore(ctx, m.ID, sink, backup.RestoreOptions{Force: force})
		if err != nil {
			return b.fail("restore", err)
		}
		fmt.Fprintf(b.c.stdout, "%s %s %s restored: %d entries, %s in %s\n", m.ID, m.Source.Kind, strings.Join(m.Covers, ","),
			rep.Entries, human(rep.Bytes), rep.Elapsed.Round(time.Millisecond))
		if report != nil {
			report()
		}
		if m.Source.Kind == "dir" && m.Source.Name == "deployment" {
			if err := placeEmergencyLog(to); err != nil {
				return b.fail("restore", err)
			}
		}
	}
	fmt.Fprintf(b.c.stdout, "set %s restored: %d members\n", s.ID, len(members))
	return exitOK
}

// placeEmergencyLog moves the emergency log restored with the deployment's
// own files (to/deployment/) to where the deployment reads it
// (hipaakit.FileEmergency in the data directory), durably. The trusted
// keys stay in to/deployment/trusted-keys.pem for the operator.
func placeEmergencyLog(to string) error {
	from := filepath.Join(to, "deployment", hipaakit.FileEmergency)
	if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	dest := filepath.Join(to, hipaakit.FileEmergency)
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("restore: %s exists in the destination: %w", hipaakit.FileEmergency, backup.ErrExists)
	}
	if err := os.Rename(from, dest); err != nil {
		return fmt.Errorf("place the emergency log: %w", durable.WithoutPath(err))
	}
	for _, dir := range []string{filepath.Dir(from), to} {
		if err := durable.SyncDir(dir); err != nil {
			return fmt.Errorf("place the emergency log: %w", durable.WithoutPath(err))
		}
	}
	return nil
}

// setMemberSink is where restoreSet puts member m.
func (b *backupCmd) setMemberSink(ctx context.Context, s *backup.Set, m backup.SetMember, to, toSchema string, trusted signing.KeySet) (backup.Sink, func(), error) {
	switch m.Source.Kind {
	case "dir", "audit":
		name := m.Source.Name
		if m.Source.Kind == "audit" {
			name = hipaakit.DirAudit
		}
		if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
			return nil, nil, fmt.Errorf("set member %s: its name is not a directory name; restore it alone with --to", m.ID)
		}
		return backup.NewDirSink(filepath.Join(to, name)), nil, nil
	case "postgres":
		pool, err := needDB(b.tool)
		if err != nil {
			return nil, nil, err
		}
		schema := toSchema
		if strings.HasSuffix(m.Source.Name, hipaakit.LedgerSchemaSuffix) {
			schema += hipaakit.LedgerSchemaSuffix
		}
		return pgsource.NewSink(pool, schema), nil, nil
	case "keystore":
		replay, err := b.setLedger(ctx, s, to, toSchema, trusted)
		if err != nil {
			return nil, nil, err
		}
		var sink *backup.KeyStoreSink
		if toSchema == "" {
			fs, err := backup.NewFileKeyStoreSink(filepath.Join(to, hipaakit.DirKeys), replay)
			if err != nil {
				return nil, nil, err
			}
			return fs, func() { b.keysetCounts(fs.Restored, fs.Shredded) }, nil
		}
		pool, err := b.schemaPool(ctx, toSchema)
		if err != nil {
			return nil, nil, err
		}
		if err := pgstore.Migrate(ctx, pool); err != nil {
			return nil, nil, err
		}
		if sink, err = backup.NewKeyStoreSink(pgstore.New(pool, pgstore.Config{}), replay); err != nil {
			return nil, nil, err
		}
		return sink, func() { b.keysetCounts(sink.Restored, sink.Shredded) }, nil
	}
	return nil, nil, fmt.Errorf("%w: set member %s of kind %q", backup.ErrSourceKind, m.ID, m.Source.Kind)
}

func (b *backupCmd) keysetCounts(restored, shredded int) {
	fmt.Fprintf(b.c.stdout, "key store: %d keysets restored, %d kept shredded by the disposal ledger\n", restored, shredded)
}

// setLedger is what a set's key store restore replays: the disposal ledger
// restored from the set (when it holds one) and the configured ledger (when
// there is one), so that a subject shredded in either stays shredded.
func (b *backupCmd) setLedger(ctx context.Context, s *backup.Set, to, toSchema string, trusted signing.KeySet) (backup.LedgerReplayer, error) {
	var all replayers
	if slices.ContainsFunc(s.Members, func(m backup.SetMember) bool { return slices.Contains(m.Covers, hipaakit.PartLedger) }) {
		if toSchema != "" {
			pool, err := b.schemaPool(ctx, toSchema+hipaakit.LedgerSchemaSuffix)
			if err != nil {
				return nil, err
			}
			ro, err := pgledger.OpenReadOnly(pool, trusted)
			if err != nil {
				return nil, err
			}
			all = append(all, disposal.NewLedger(ro))
		} else {
			store, err := disposal.OpenFileLedgerReader(ctx, filepath.Join(to, hipaakit.DirLedger), disposal.FileLedgerOptions{Keys: trusted})
			if err != nil {
				return nil, fmt.Errorf("the restored disposal ledger: %w", err)
			}
			all = append(all, disposal.NewLedger(store))
		}
	}
	if b.tool.DataPath("") != "" || b.tool.DB() != nil {
		live, err := b.tool.ReadLedger(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, live)
	}
	if len(all) == 0 {
		return nil, errors.New("no disposal ledger to replay: the set holds none and none is configured")
	}
	return all, nil
}

// replayers replays several ledgers, one after another.
type replayers []backup.LedgerReplayer

func (rs replayers) Replay(ctx context.Context, store phi.KeyStore) (int, error) {
	n := 0
	for _, r := range rs {
		k, err := r.Replay(ctx, store)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// schemaPool is a pool of the configured database whose search_path is
// schema.
func (b *backupCmd) schemaPool(ctx context.Context, schema string) (*pgxpool.Pool, error) {
	main, err := needDB(b.tool)
	if err != nil {
		return nil, err
	}
	cfg := main.Config().Copy()
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to schema %s: %w", schema, err)
	}
	b.closers = append(b.closers, pool.Close)
	return pool, nil
}

// drillSet drills every member of a set into scratch space; the set's
// event names the parts that were restored.
func (b *backupCmd) drillSet(ctx context.Context, pos []string, scratch string) int {
	s, err := b.resolveSet(ctx, pos)
	if err != nil {
		return b.fail("drill", err)
	}
	var first error
	var optsErr error
	reps, err := b.repo.DrillSet(ctx, s.ID, func(m backup.SetMember) backup.DrillOptions {
		opts, oerr := b.drillOptions(ctx, m.Source.Kind, scratch)
		if oerr != nil && optsErr == nil {
			optsErr = oerr
		}
		return opts
	})
	if optsErr != nil {
		return b.fail("drill", optsErr)
	}
	first = err
	for i, rep := range reps {
		status := "PASS"
		if !rep.Pass {
			status = "FAIL"
		}
		covers := ""
		if i < len(s.Members) {
			covers = strings.Join(s.Members[i].Covers, ",")
		}
		fmt.Fprintf(b.c.stdout, "%s %s %s %s: %d entries, %s; RTO %s\n", rep.ID, status, rep.Source.Kind, covers, rep.Entries,
			human(rep.Bytes), rep.RTO.Round(time.Millisecond))
		for _, mm := range rep.Mismatches {
			fmt.Fprintf(b.c.stdout, "  %s\n", mm)
		}
	}
	if first != nil {
		fmt.Fprintf(b.c.stdout, "set %s FAIL\n", s.ID)
		return b.fail("drill", first)
	}
	fmt.Fprintf(b.c.stdout, "set %s PASS: restored %s\n", s.ID, strings.Join(s.Covered(), ", "))
	return exitOK
}

// copySets copies backup sets (ID, latest or all) to toRepo as units.
func (b *backupCmd) copySets(ctx context.Context, pos []string, toRepo string) int {
	if toRepo == "" {
		return drFail(b.c, "backup copy", &drUsageError{"copy needs --to-repo"})
	}
	var sets []*backup.Set
	if len(pos) == 1 && pos[0] == "all" {
		var err error
		if sets, err = b.repo.ListSets(ctx); err != nil {
			return b.fail("copy", err)
		}
	} else {
		s, err := b.resolveSet(ctx, pos)
		if err != nil {
			return b.fail("copy", err)
		}
		sets = []*backup.Set{s}
	}
	dst, err := b.destination(ctx, toRepo)
	if err != nil {
		return b.fail("copy", err)
	}
	for _, s := range sets {
		_, reps, err := backup.CopySet(ctx, b.repo, dst, s.ID)
		for _, rep := range reps {
			state := "copied"
			if !rep.Copied {
				state = "already there"
			}
			fmt.Fprintf(b.c.stdout, "  %s %s, verified: %s\n", rep.ID, state, human(rep.Verify.Bytes))
		}
		if err != nil {
			return b.fail("copy", err)
		}
		fmt.Fprintf(b.c.stdout, "set %s copied: %d members\n", s.ID, len(reps))
	}
	return exitOK
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
