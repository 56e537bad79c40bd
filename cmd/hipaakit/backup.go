package main

// `hipaakit backup create|list|verify|restore|drill|prune|copy`.
//
// Environment (besides the data directory / database of disposal.go):
//
//	HIPAAKIT_BACKUP_REPO   the repository: a directory, or s3://bucket[/prefix]
//	                       (overridden by --repo)
//	HIPAAKIT_MASTER_KEY    the local master key (hipaakit-local-kek-v1:…) that
//	                       wraps the repository key; else the file
//	                       HIPAAKIT_MASTER_KEY_FILE names, else the
//	                       deployment's key file (never created here); see
//	                       masterkey.go
//	HIPAAKIT_S3_ENDPOINT   endpoint of an S3-compatible store (path-style);
//	                       empty for AWS. Credentials: AWS_ACCESS_KEY_ID and
//	                       AWS_SECRET_ACCESS_KEY, else the AWS default chain;
//	                       region: AWS_REGION (default us-east-1)
//
// Exit codes: 0 success; 1 a check failed (verification found bad objects,
// a drill failed, a restore was refused because the destination holds
// data); 2 usage; 3 an operational error.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/backup/s3target"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
)

const backupUsage = `usage: hipaakit backup <command> [--repo DIR|s3://BUCKET/PREFIX] [flags]

commands:
  create   --source dir|audit|keystore|postgres [--path DIR] [--schema S] [--tables a,b] [--name N]
           back up a source; prints the new backup's ID (creates the repository on first use)
  create   --all [--path DIR] [--schema S] [--tables a,b] [--name N]
           back up the key store, the audit trail (data directory) and, when given, --path
           and --schema as one backup set; prints the set's ID, then its members'
  list     [--json]                          list complete backups and backup sets, oldest first
  verify   [ID|latest|all] [--fraction F | --bytes N] [--seed S]
           re-read and authenticate backups (exit 1 names every bad object)
  restore  ID|latest [--to DIR | --to-schema S | --to-keystore] [--force]
           restore staged and atomically; key stores replay the disposal ledger first
  drill    [ID] [--kind K] [--scratch DIR]   restore into scratch space and compare (exit 1 on fail)
  prune    [--keep-last N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--dry-run]
           delete old backups (never the newest verified one, never under legal hold) and unused chunks
  copy     ID|latest|all --to-repo DIR|s3://BUCKET/PREFIX
           copy backups to a second repository (same master key; created on first use),
           uploading only chunks it lacks, and verify them there (exit 1 on a bad object)

common flags: --repo, --progress (progress bar on standard error), --by USER
`

// backupCmd holds what every backup subcommand opens.
type backupCmd struct {
	c    *cli
	tool *hipaakit.Tool
	repo *backup.Repository
	cfg  backup.Config // the repository's configuration (audit writer, actor)
}

func cmdBackup(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, backupUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := drFlags(c, "backup "+sub)
	repoFlag := fs.String("repo", "", "repository: a directory or s3://bucket/prefix (default $HIPAAKIT_BACKUP_REPO)")
	progress := fs.Bool("progress", false, "show a progress bar on standard error")
	by := fs.String("by", "", "user ID recorded in the audit trail (default cli:$USER)")
	// Subcommand flags.
	source := fs.String("source", "", "create: dir, audit, keystore or postgres")
	path := fs.String("path", "", "create: directory to back up (dir; audit defaults to <data>/audit)")
	schema := fs.String("schema", "", "create: PostgreSQL schema")
	tables := fs.String("tables", "", "create: comma-separated tables (default all)")
	name := fs.String("name", "", "create: label recorded with the backup (no PHI)")
	all := fs.Bool("all", false, "create: back up every source of the deployment as one set")
	asJSON := fs.Bool("json", false, "list: JSON output")
	fraction := fs.Float64("fraction", 0, "verify: check this fraction of chunks")
	budget := fs.Int64("bytes", 0, "verify: check chunks up to this many bytes")
	seed := fs.Uint64("seed", 0, "verify: seed of the random subset (default: time)")
	to := fs.String("to", "", "restore: destination directory")
	toSchema := fs.String("to-schema", "", "restore: destination PostgreSQL schema")
	toKeystore := fs.Bool("to-keystore", false, "restore: into the configured key store")
	force := fs.Bool("force", false, "restore: replace existing data")
	kind := fs.String("kind", "", "drill: newest backup of this source kind")
	scratch := fs.String("scratch", "", "drill: scratch directory (default system temp)")
	keepLast := fs.Int("keep-last", 0, "prune: keep the newest N backups per source")
	keepDaily := fs.Int("keep-daily", 0, "prune: keep one backup for each of the last N days")
	keepWeekly := fs.Int("keep-weekly", 0, "prune: keep one backup for each of the last N weeks")
	keepMonthly := fs.Int("keep-monthly", 0, "prune: keep one backup for each of the last N months")
	dryRun := fs.Bool("dry-run", false, "prune: report, delete nothing")
	toRepo := fs.String("to-repo", "", "copy: destination repository (a directory or s3://bucket/prefix)")
	pos, err := drParse(fs, args)
	if err != nil {
		fmt.Fprint(c.stderr, backupUsage)
		return exitUsage
	}
	switch sub {
	case "create", "list", "verify", "restore", "drill", "prune", "copy":
	default:
		fmt.Fprintf(c.stderr, "hipaakit backup: unknown command %q\n\n%s", sub, backupUsage)
		return exitUsage
	}
	if *repoFlag == "" {
		*repoFlag = c.getenv("HIPAAKIT_BACKUP_REPO")
	}
	if *repoFlag == "" {
		fmt.Fprintf(c.stderr, "hipaakit backup %s: set --repo or HIPAAKIT_BACKUP_REPO\n", sub)
		return exitUsage
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, "backup "+sub, err)
	}
	defer t.Close()
	b := &backupCmd{c: c, tool: t}
	var cfg backup.Config
	if *progress {
		cfg.Progress = progressBar(c.stderr)
	}
	if err := b.open(ctx, sub, *repoFlag, drActor(c, *by), cfg); err != nil {
		return b.fail(sub, err)
	}
	switch sub {
	case "create":
		if *all {
			return b.createSet(ctx, *path, *schema, *tables, *name)
		}
		return b.create(ctx, *source, *path, *schema, *tables, *name)
	case "list":
		return b.list(ctx, *asJSON)
	case "verify":
		opts := backup.VerifyOptions{Fraction: *fraction, ByteBudget: *budget, Seed: *seed}
		if opts.Seed == 0 {
			opts.Seed = uint64(time.Now().UnixNano())
		}
		return b.verify(ctx, pos, opts)
	case "restore":
		return b.restore(ctx, pos, *to, *toSchema, *toKeystore, *force)
	case "drill":
		return b.drill(ctx, pos, *kind, *scratch)
	case "copy":
		return b.copy(ctx, pos, *toRepo)
	default:
		return b.prune(ctx, backup.Policy{KeepLast: *keepLast, KeepDaily: *keepDaily, KeepWeekly: *keepWeekly, KeepMonthly: *keepMonthly}, *dryRun)
	}
}

// fail maps an error to an exit code: refusals and bad objects are check
// failures (1), the rest operational (3).
func (b *backupCmd) fail(sub string, err error) int {
	var ue *drUsageError
	switch {
	case errors.As(err, &ue):
		return drFail(b.c, "backup "+sub, err)
	case errors.Is(err, backup.ErrVerifyFailed), errors.Is(err, backup.ErrDrillFailed), errors.Is(err, backup.ErrExists),
		errors.Is(err, backup.ErrCorrupt), errors.Is(err, backup.ErrWrongKey), errors.Is(err, backup.ErrUnsupportedVersion):
		fmt.Fprintf(b.c.stderr, "hipaakit backup %s: %v\n", sub, err)
		return exitCheck
	default:
		fmt.Fprintf(b.c.stderr, "hipaakit backup %s: %v\n", sub, durable.WithoutPath(err))
		return exitFailure
	}
}

func (b *backupCmd) kek() (phi.KEK, error) {
	return b.c.localMasterKey()
}

func (b *backupCmd) target(ctx context.Context, repo string) (backup.Target, error) {
	rest, ok := strings.CutPrefix(repo, "s3://")
	if !ok {
		return backup.NewDirTarget(repo)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	o := s3target.ClientOptions{Endpoint: b.c.getenv("HIPAAKIT_S3_ENDPOINT"), Region: b.c.getenv("AWS_REGION"),
		AccessKey: b.c.getenv("AWS_ACCESS_KEY_ID"), SecretKey: b.c.getenv("AWS_SECRET_ACCESS_KEY")}
	if o.AccessKey == "" {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("AWS configuration: %w", err)
		}
		o.Credentials = cfg.Credentials
		if o.Region == "" {
			o.Region = cfg.Region
		}
	}
	client, err := s3target.NewClient(o)
	if err != nil {
		return nil, err
	}
	return s3target.New(client, s3target.Config{Bucket: bucket, Prefix: prefix})
}

func (b *backupCmd) open(ctx context.Context, sub, repo, actor string, cfg backup.Config) error {
	kek, err := b.kek()
	if err != nil {
		return err
	}
	tg, err := b.target(ctx, repo)
	if err != nil {
		return err
	}
	// Opened on the first event: backup list records none and claims no
	// stream; every writing run gets a stream of its own.
	w := b.tool.LazyAudit(ctx)
	cfg.Audit, cfg.Actor = w, audit.Actor{UserID: actor}
	if sub == "prune" {
		reg, err := b.tool.Holds(ctx)
		if err != nil {
			return err
		}
		cfg.LegalHolds = backup.HoldsFrom(reg)
	}
	b.cfg = cfg
	b.repo, err = backup.Open(ctx, tg, kek, cfg)
	if errors.Is(err, backup.ErrNotFound) && sub == "create" {
		b.repo, err = backup.Init(ctx, tg, kek, cfg)
	}
	return err
}

func (b *backupCmd) create(ctx context.Context, kind, path, schema, tables, name string) int {
	var src backup.Source
	switch kind {
	case "dir":
		if path == "" {
			return drFail(b.c, "backup create", &drUsageError{"--source dir needs --path"})
		}
		src = backup.DirSource{Root: path, Name: name}
	case "audit":
		if path == "" {
			path = b.tool.DataPath(hipaakit.DirAudit)
		}
		s := backup.AuditSource(path)
		if name != "" {
			s.Name = name
		}
		src = s
	case "keystore":
		ks, err := b.tool.Keys()
		if err != nil {
			return b.fail("create", err)
		}
		src = backup.KeyStoreSource{Store: ks, Name: name}
	case "postgres":
		if schema == "" {
			return drFail(b.c, "backup create", &drUsageError{"--source postgres needs --schema"})
		}
		pool, err := needDB(b.tool)
		if err != nil {
			return b.fail("create", err)
		}
		src = pgsource.Source{Pool: pool, Schema: schema, Tables: drSplit(tables)}
	default:
		return drFail(b.c, "backup create", &drUsageError{"--source must be dir, audit, keystore or postgres"})
	}
	m, err := b.repo.Backup(ctx, src)
	if err != nil {
		return b.fail("create", err)
	}
	fmt.Fprintln(b.c.stdout, m.ID)
	fmt.Fprintf(b.c.stderr, "hipaakit backup create: %d entries, %s (%s new)\n", m.Totals.Entries, human(m.Totals.Bytes), human(m.Totals.NewBytes))
	return exitOK
}

func (b *backupCmd) list(ctx context.Context, asJSON bool) int {
	l, err := b.repo.ListReport(ctx)
	if err != nil {
		return b.fail("list", err)
	}
	infos := l.Backups
	// A damaged manifest is named and skipped; the others are listed.
	code := exitOK
	for _, p := range l.Damaged {
		fmt.Fprintf(b.c.stderr, "hipaakit backup list: skipped %s: %v\n", p.Object, p.Err)
		code = exitCheck
	}
	if asJSON {
		enc := json.NewEncoder(b.c.stdout)
		enc.SetIndent("", "  ")
		if infos == nil {
			infos = []backup.Info{}
		}
		if err := enc.Encode(infos); err != nil {
			return b.fail("list", err)
		}
		return code
	}
	for _, i := range infos {
		verified := "-"
		if !i.Verified.IsZero() {
			verified = i.Verified.UTC().Format(time.RFC3339)
		}
		if i.VerifiedProblem != "" {
			verified = "- (record unreadable)"
			fmt.Fprintf(b.c.stderr, "hipaakit backup list: %s: %s\n", audit.EscapeText(i.ID), audit.EscapeText(i.VerifiedProblem))
		}
		fmt.Fprintf(b.c.stdout, "%s  %s  %-8s %-16s %6d entries %10s  verified %s\n", audit.EscapeText(i.ID), i.Finished.UTC().Format(time.RFC3339),
			audit.EscapeText(string(i.Source.Kind)), audit.EscapeText(i.Source.Name), i.Totals.Entries, human(i.Totals.Bytes), verified)
	}
	sets, err := b.repo.ListSets(ctx)
	if err != nil {
		return b.fail("list", err)
	}
	for _, s := range sets {
		fmt.Fprintf(b.c.stdout, "set %s  %s  %-16s %d members:", s.ID, s.Finished.UTC().Format(time.RFC3339), audit.EscapeText(s.Name), len(s.Members))
		for _, m := range s.Members {
			fmt.Fprintf(b.c.stdout, " %s", m.ID)
		}
		fmt.Fprintln(b.c.stdout)
	}
	return code
}

// resolve turns "latest" (or nothing, when allowed) into the ID of the
// newest backup of one of kinds (any kind when none are given).
func (b *backupCmd) resolve(ctx context.Context, pos []string, optional bool, kinds ...string) (string, error) {
	if len(pos) > 1 {
		return "", &drUsageError{"at most one backup ID"}
	}
	if len(pos) == 0 && optional {
		return "", nil
	}
	if len(pos) == 1 && pos[0] != "latest" {
		return pos[0], nil
	}
	infos, err := b.repo.List(ctx)
	if err != nil {
		return "", err
	}
	for i := len(infos) - 1; i >= 0; i-- {
		if len(kinds) == 0 || slices.Contains(kinds, infos[i].Source.Kind) {
			return infos[i].ID, nil
		}
	}
	return "", fmt.Errorf("no backup: %w", backup.ErrNotFound)
}

func (b *backupCmd) verify(ctx context.Context, pos []string, opts backup.VerifyOptions) int {
	var ids []string
	if len(pos) == 1 && pos[0] == "all" {
		l, err := b.repo.ListReport(ctx)
		if err != nil {
			return b.fail("verify", err)
		}
		for _, i := range l.Backups {
			ids = append(ids, i.ID)
		}
		for _, p := range l.Damaged { // verified too: reported as failing
			ids = append(ids, strings.TrimPrefix(p.Object, "manifests/"))
		}
	} else {
		id, err := b.resolve(ctx, pos, false)
		if err != nil {
			return b.fail("verify", err)
		}
		ids = []string{id}
	}
	code := exitOK
	for _, id := range ids {
		rep, err := b.repo.Verify(ctx, id, opts)
		var ve *backup.VerifyError
		switch {
		case errors.As(err, &ve):
			fmt.Fprintf(b.c.stdout, "%s FAIL %d problem(s)\n", id, len(ve.Problems))
			for _, p := range ve.Problems {
				fmt.Fprintf(b.c.stdout, "  %s: %v\n", p.Object, p.Err)
			}
			code = exitCheck
		case err != nil && !errors.Is(err, backup.ErrMarkerNotWritten):
			return b.fail("verify", err)
		default:
			mode := "full"
			if !rep.Full {
				mode = fmt.Sprintf("subset %d/%d chunks, seed %d", rep.Checked, rep.Chunks, opts.Seed)
			}
			fmt.Fprintf(b.c.stdout, "%s OK %s, %s authenticated\n", id, mode, human(rep.Bytes))
			if err != nil { // the verdict stands; its record was not written
				return b.fail("verify", err)
			}
		}
	}
	return code
}

func (b *backupCmd) prune(ctx context.Context, p backup.Policy, dryRun bool) int {
	rep, err := b.repo.Prune(ctx, backup.PruneOptions{Policy: p, DryRun: dryRun})
	if err != nil {
		return b.fail("prune", err)
	}
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	for _, d := range rep.Decisions {
		if d.Keep {
			fmt.Fprintf(b.c.stdout, "keep   %s  %s\n", d.Info.ID, strings.Join(d.Reasons, ", "))
		} else {
			fmt.Fprintf(b.c.stdout, "remove %s\n", d.Info.ID)
		}
	}
	fmt.Fprintf(b.c.stdout, "%s %d backup(s); %d unused chunk(s), %d deleted (%s)", verb, len(rep.Removed), rep.ChunksUnused, rep.ChunksDeleted, human(rep.BytesDeleted))
	if rep.GCDeferred {
		fmt.Fprint(b.c.stdout, "; chunk collection deferred: a backup is running")
	}
	if rep.GCBlocked {
		fmt.Fprint(b.c.stdout, "; no chunk collected: a manifest is damaged")
	}
	for _, p := range rep.Damaged {
		fmt.Fprintf(b.c.stderr, "hipaakit backup prune: skipped %s: %v\n", p.Object, p.Err)
	}
	fmt.Fprintln(b.c.stdout)
	return exitOK
}

// human formats a byte count.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progressBar renders backup.Progress as a one-line bar on w.
func progressBar(w io.Writer) func(backup.Progress) {
	return func(p backup.Progress) {
		const width = 30
		line := fmt.Sprintf("%-7s %s", p.Op, human(p.Bytes))
		if p.Total > 0 {
			frac := min(float64(p.Bytes)/float64(p.Total), 1)
			fill := int(frac * width)
			line = fmt.Sprintf("%-7s [%s%s] %3.0f%% %s / %s", p.Op, strings.Repeat("#", fill), strings.Repeat(".", width-fill),
				frac*100, human(p.Bytes), human(p.Total))
		}
		line += fmt.Sprintf("  %s/s", human(int64(p.Rate)))
		if p.ETA >= 0 && !p.Done {
			line += "  ETA " + p.ETA.Round(time.Second).String()
		}
		end := "\r"
		if p.Done {
			end = "\n"
		}
		fmt.Fprintf(w, "\r%-80s%s", line, end)
	}
}
