package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
	"github.com/hipaakit/hipaakit/retention/pgtables"
)

const retentionUsage = `usage: hipaakit retention <sweep|purge-audit> --policies FILE [--dry-run]
       hipaakit retention purge-audit --policies FILE --archive ARCHIVE [--archive-stream S]
       hipaakit retention archive-audit --archive ARCHIVE [--after DURATION] [--stream S]

  sweep        Reads the subjects and records of the tables named in the
               policy file's "source" (PostgreSQL, DATABASE_URL),
               evaluates the policies and legal holds, and crypto-shreds every
               subject whose records have all expired. Exit 0 when every
               disposal succeeded, 1 when some failed.
  purge-audit  Applies the policy of kind "audit" to the audit trail
               (<data>/audit, or PostgreSQL partitions), keeping everything a
               legal hold covers; whole segments or partitions only. With
               --archive, then the same to the audit archive (a directory or
               s3://bucket/prefix): whole units only, never the newest, the
               stream --archive-stream (default "audit", the file log's).
  archive-audit
               Archives the trail's sealed segments (PostgreSQL: the months
               of --stream) written at least --after ago (default 720h) to
               ARCHIVE, with tree tiles and signed checkpoints; check it
               with "hipaakit audit archive-verify".

  --dry-run lists what would be disposed of and changes nothing.
`

// cmdRetention runs `hipaakit retention ...`.
func cmdRetention(ctx context.Context, c *cli, args []string) int {
	if len(args) > 0 && args[0] == "purge-audit" {
		return drPurgeAudit(ctx, c, args[1:])
	}
	if len(args) > 0 && args[0] == "archive-audit" {
		return drArchiveAudit(ctx, c, args[1:])
	}
	if len(args) == 0 || args[0] != "sweep" {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(c.stdout, retentionUsage)
			return exitOK
		}
		fmt.Fprint(c.stderr, retentionUsage)
		return exitUsage
	}
	fs := drFlags(c, "retention sweep")
	policyPath := fs.String("policies", "", "policy file (format hipaakit-retention-policies)")
	dryRun := fs.Bool("dry-run", false, "evaluate and report only")
	pos, err := drParse(fs, args[1:])
	if err != nil || len(pos) != 0 || *policyPath == "" {
		fmt.Fprint(c.stderr, retentionUsage)
		return exitUsage
	}
	data, err := drReadLimited(*policyPath, 1<<20+1)
	if err != nil {
		return drFail(c, "retention sweep", fmt.Errorf("read policy file: %w", durable.WithoutPath(err)))
	}
	pf, err := retention.ParsePolicyFile(data)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit retention sweep: %v\n", err)
		return exitUsage
	}
	tables, err := pgtables.ParseConfig(pf.Source)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit retention sweep: policy file \"source\": %v\n", err)
		return exitUsage
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, "retention sweep", err)
	}
	defer t.Close()
	pool, err := needDB(t)
	if err != nil {
		return drFail(c, "retention sweep", err)
	}
	src, err := pgtables.New(pool, tables...)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit retention sweep: %v\n", err)
		return exitUsage
	}
	shredder, err := t.Shredder(ctx)
	if err != nil {
		return drFail(c, "retention sweep", err)
	}
	reg, err := t.Holds(ctx)
	if err != nil {
		return drFail(c, "retention sweep", err)
	}
	state, err := t.SweepState("")
	if err != nil {
		return drFail(c, "retention sweep", err)
	}
	sw, err := retention.NewSweeper(retention.SweeperConfig{Source: src, Policies: pf.Policies, Holds: reg, Disposer: shredder, State: state, BatchSize: pf.BatchSize})
	if err != nil {
		return drFail(c, "retention sweep", err)
	}
	var opts []retention.SweepOption
	if *dryRun {
		opts = append(opts, retention.DryRun(), retention.Observe(func(d retention.SubjectDecision, _ error) {
			if d.Action == retention.Dispose {
				fmt.Fprintf(c.stdout, "would shred %s (%s)\n", d.Subject, strings.Join(d.Kinds, ","))
			}
		}))
	}
	rep, err := sw.Sweep(ctx, opts...)
	drPrintReport(c, rep)
	if errors.Is(err, retention.ErrSweepRunning) {
		fmt.Fprintln(c.stderr, "hipaakit retention sweep: another sweep is running; try again later")
		return exitFailure
	}
	if err != nil {
		return drFail(c, "retention sweep", err)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(c.stderr, "failed: %s: %v\n", f.Subject, f.Err)
	}
	if rep.Failed > 0 {
		return exitCheck
	}
	return exitOK
}

func drPrintReport(c *cli, rep retention.Report) {
	mode := ""
	if rep.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(c.stdout, "subjects: %d evaluated, %d shredded, %d kept (%d held), %d failed%s\n",
		rep.Subjects, rep.Shredded, rep.Kept, rep.Held, rep.Failed, mode)
	kinds := make([]string, 0, len(rep.PerKind))
	for k := range rep.PerKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tRECORDS\tDISPOSED\tHELD\tFAILED")
	for _, k := range kinds {
		kc := rep.PerKind[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", k, kc.Records, kc.Disposed, kc.Held, kc.Failed)
	}
	tw.Flush()
}

func drPurgeAudit(ctx context.Context, c *cli, args []string) int {
	const name = "retention purge-audit"
	fs := drFlags(c, name)
	policyPath := fs.String("policies", "", "policy file (format hipaakit-retention-policies)")
	dryRun := fs.Bool("dry-run", false, "report only")
	archivePath := fs.String("archive", "", "also purge this audit archive")
	archiveStream := fs.String("archive-stream", audit.DefaultStream, "the archived stream to purge")
	pos, err := drParse(fs, args)
	if err != nil || len(pos) != 0 || *policyPath == "" {
		fmt.Fprint(c.stderr, retentionUsage)
		return exitUsage
	}
	data, err := drReadLimited(*policyPath, 1<<20+1)
	if err != nil {
		return drFail(c, name, fmt.Errorf("read policy file: %w", durable.WithoutPath(err)))
	}
	pf, err := retention.ParsePolicyFile(data)
	if err == nil {
		_, err = retention.AuditRetention(pf.Policies, time.Now())
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit %s: %v\n", name, err)
		return exitUsage
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, name, err)
	}
	defer t.Close()
	w, err := t.Audit(ctx)
	if err != nil {
		return drFail(c, name, err)
	}
	reg, err := t.Holds(ctx)
	if err != nil {
		return drFail(c, name, err)
	}
	mode := ""
	if *dryRun {
		mode = " (dry run: nothing changed)"
	}
	if log, ok := w.(retention.AuditLog); ok && t.DB() == nil {
		rep, err := retention.PurgeAudit(ctx, log, pf.Policies, reg, time.Now(), *dryRun)
		if err != nil {
			return drFail(c, name, err)
		}
		fmt.Fprintf(c.stdout, "audit segments purged: %d (through seq %d), stopped by %s, cutoff %s%s\n",
			len(rep.Purged), rep.ThroughSeq, rep.StoppedBy, rep.Cutoff.Format(time.RFC3339), mode)
		if *archivePath != "" {
			if err := purgeAuditArchive(ctx, c, t, w, reg, pf.Policies, *archivePath, *archiveStream, *dryRun); err != nil {
				return drFail(c, name, err)
			}
		}
		return exitOK
	}
	pool, err := needDB(t)
	if err != nil {
		return drFail(c, name, err)
	}
	key, err := t.SigningKey()
	if err != nil {
		return drFail(c, name, err)
	}
	store := pgretention.NewHoldStore(pool)
	res, err := pgretention.PurgeAudit(ctx, pool, pf.Policies, store, pgretention.AuditPurgeOptions{Signer: key, DryRun: *dryRun})
	if err != nil {
		return drFail(c, name, err)
	}
	fmt.Fprintf(c.stdout, "audit partitions purged: %s, cutoff %s%s\n", drList(res.Partitions), res.Cutoff.Format(time.RFC3339), mode)
	if res.Kept != "" {
		fmt.Fprintf(c.stdout, "kept under legal hold: %s (and every newer partition)\n", res.Kept)
	}
	if *archivePath != "" {
		if err := purgeAuditArchive(ctx, c, t, w, reg, pf.Policies, *archivePath, *archiveStream, *dryRun); err != nil {
			return drFail(c, name, err)
		}
	}
	return exitOK
}

func drList(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
