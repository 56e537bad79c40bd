package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
)

var auditUsage = `usage: hipaakit audit <verify|query|export|disclosures|prove|verify-proof|consistency|witness|witness-status|archive-verify> [flags] TARGET

TARGET is a file log directory, a postgres:// URL, or "pg" to read the URL
from DATABASE_URL (which keeps a password out of the process list).

  verify --key FILE [--key FILE]... [--expect FILE] [--require-sealed]
      [--since CHECKPOINT] TARGET
      Check hash chains, checkpoints and anchors. Exit 0 when intact, 1 with
      the first bad event named. FILE holds one or more trusted ed25519
      public keys as PEM (PKIX "PUBLIC KEY"); --expect FILE holds checkpoint
      lines kept outside the log (one per line). --since CHECKPOINT (a
      format-v2 checkpoint note kept from the log) also rebuilds the Merkle
      tree and checks that the log only grew since then: a log cut at a
      checkpoint or rewound fails.
  query [filter] [--limit N] [--after CURSOR] [--format jsonl|csv] [read] TARGET
      Print one page of matching records; the next page's cursor goes to
      stderr as "next: CURSOR".
  export [filter] [--format jsonl|csv] [--out FILE] [read] TARGET
      Write every matching record (jsonl: canonical record lines, each
      stream in chain order, so an export of whole streams verifies).
  disclosures --subject ID [--since T] [--until T] [--include-failures]
      [--include-tpo] [read] TARGET
      Accounting of disclosures of one patient (45 CFR 164.528), CSV, with
      recipients. Treatment, payment and operations (and uses without a
      recipient) are left out unless --include-tpo is given.
` + auditProofUsage[1:] + `
Text and CSV output escapes control, bidi and invisible characters (ESC as
\x1b, U+202E as \u202e, a backslash as \\); jsonl is canonical JSON.

read flags: --key FILE (repeatable) [--expect FILE] | --verify=false
  query, export and disclosures verify the trail they read (hash chains,
  checkpoints, anchors; --key and --expect as for verify) and report
  tampering instead of printing forged records. --verify=false reads
  without verifying (no --key needed).

filter flags: --subject ID --actor ID --record-type T --record-id ID
  --action A (repeatable or comma-separated) --outcome success|failure
  --stream S --since T --until T (T: RFC 3339 or YYYY-MM-DD, UTC)
`

// envDatabaseURL names the environment variable of the PostgreSQL
// deployment (the "pg" target here), the one the services read.
const envDatabaseURL = hipaakit.EnvDatabaseURL

// cmdAudit runs "hipaakit audit ...".
func cmdAudit(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, auditUsage)
		return exitUsage
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, c, args[1:])
	case "query", "export":
		return auditList(ctx, c, args[0], args[1:])
	case "disclosures":
		return auditDisclosures(ctx, c, args[1:])
	case "prove":
		return auditProve(ctx, c, args[1:])
	case "verify-proof":
		return auditVerifyProof(ctx, c, args[1:])
	case "consistency":
		return auditConsistency(ctx, c, args[1:])
	case "witness":
		return auditWitness(ctx, c, args[1:])
	case "witness-status":
		return auditWitnessStatus(ctx, c, args[1:])
	case "archive-verify":
		return auditArchiveVerify(ctx, c, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, auditUsage)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "hipaakit audit: unknown subcommand %q\n\n%s", args[0], auditUsage)
		return exitUsage
	}
}

// usageErr marks a command-line mistake (exit 2).
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageErr{fmt.Sprintf(format, a...)} }

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// filterFlags binds the audit.Filter flags to fs.
type filterFlags struct {
	subject, actor, recType, recID, outcome, stream, since, until string
	actions                                                       multiFlag
}

func (ff *filterFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&ff.subject, "subject", "", "patient (subject) identifier")
	fs.StringVar(&ff.actor, "actor", "", "actor user ID")
	fs.StringVar(&ff.recType, "record-type", "", "record type")
	fs.StringVar(&ff.recID, "record-id", "", "record ID")
	fs.Var(&ff.actions, "action", "action (repeatable, or comma-separated)")
	fs.StringVar(&ff.outcome, "outcome", "", "success or failure")
	fs.StringVar(&ff.stream, "stream", "", "stream name")
	fs.StringVar(&ff.since, "since", "", "from this time (inclusive)")
	fs.StringVar(&ff.until, "until", "", "before this time (exclusive)")
}

// filter builds and validates the Filter. Errors never echo the values.
func (ff *filterFlags) filter() (audit.Filter, error) {
	f := audit.Filter{Subject: ff.subject, ActorID: ff.actor, RecordType: ff.recType, RecordID: ff.recID,
		Outcome: audit.Outcome(ff.outcome), Stream: ff.stream}
	for _, a := range ff.actions {
		for _, p := range strings.Split(a, ",") {
			if p = strings.TrimSpace(p); p != "" {
				f.Actions = append(f.Actions, audit.Action(p))
			}
		}
	}
	var err error
	if f.Since, err = parseTime(ff.since); err != nil {
		return f, usagef("--since: %v", err)
	}
	if f.Until, err = parseTime(ff.until); err != nil {
		return f, usagef("--until: %v", err)
	}
	if err := f.Validate(); err != nil {
		return f, &usageErr{err.Error()}
	}
	return f, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not an RFC 3339 time or YYYY-MM-DD date")
}

// parseArgs parses flags interspersed with positional arguments and
// returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &usageErr{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseTarget parses the flags of a subcommand and returns its one TARGET.
func parseTarget(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("expected exactly one TARGET (a log directory, a postgres:// URL or \"pg\")")
	}
	return pos[0], nil
}

// source is an opened audit trail.
type source struct {
	searcher audit.Searcher
	entries  audit.EntrySource
	verify   func(ctx context.Context, opts audit.VerifyOptions) (audit.Result, error)
	close    func()
	// prover returns the Merkle-tree prover of a stream (a file log has
	// one stream: stream may be empty)
	prover func(stream string, keys signing.KeySet) (audit.Prover, error)
	// cosigned is where the witness cosignatures of the checkpoints are
	// stored (audit.TreeCosignedFile beside a file log; PostgreSQL's table)
	cosigned witness.Store
}

// readFlags are the flags of the reading subcommands (query, export,
// disclosures): verify what is read, on by default.
type readFlags struct {
	keyFiles multiFlag
	expect   string
	verify   bool
}

func (rf *readFlags) bind(fs *flag.FlagSet) {
	fs.Var(&rf.keyFiles, "key", "checkpoint public key file (repeatable)")
	fs.StringVar(&rf.expect, "expect", "", "file of checkpoint lines kept outside the log")
	fs.BoolVar(&rf.verify, "verify", true, "verify the trail while reading it")
}

// options reads the keys and expected checkpoints. Checkpoint lines of the
// --expect file with a bad signature are an error here: a read cannot
// report them beside its output.
func (rf *readFlags) options() (audit.VerifyOptions, error) {
	var opts audit.VerifyOptions
	if !rf.verify {
		if len(rf.keyFiles) > 0 || rf.expect != "" {
			return opts, usagef("--key and --expect need --verify")
		}
		return opts, nil
	}
	if len(rf.keyFiles) == 0 {
		return opts, usagef("reading verifies the trail: give --key (or --verify=false to read unverified)")
	}
	opts, forged, err := verifyOptions(rf.keyFiles, rf.expect)
	if err == nil {
		err = forged
	}
	return opts, err
}

// verifyOptions reads the public keys in keyFiles and, when expect is set,
// the checkpoint file's latest genuine checkpoints; forged reports lines of
// that file whose signature does not verify.
func verifyOptions(keyFiles []string, expect string) (opts audit.VerifyOptions, forged, err error) {
	for _, f := range keyFiles {
		set, err := signing.ReadKeySet(f)
		if err != nil {
			return opts, nil, fmt.Errorf("key file: %w", err)
		}
		opts.Keys = append(opts.Keys, set.Keys()...)
	}
	if expect != "" {
		if opts.Expect, forged, err = readCheckpoints(expect, opts.Keys); err != nil {
			return opts, nil, err
		}
	}
	return opts, forged, nil
}

// searcher returns src's searcher, verifying unless --verify=false.
func (rf *readFlags) searcher(src *source, opts audit.VerifyOptions) audit.Searcher {
	if !rf.verify {
		return src.searcher
	}
	return audit.VerifiedSearcher(src.entries, opts)
}

// openTarget opens a file log directory (read-only) or a PostgreSQL trail.
// Error messages never include the URL, which may carry a password.
func openTarget(ctx context.Context, c *cli, target string) (*source, error) {
	dsn := ""
	switch {
	case target == "pg":
		if dsn = c.getenv(envDatabaseURL); dsn == "" {
			return nil, usagef("TARGET pg needs %s", envDatabaseURL)
		}
	case strings.HasPrefix(target, "postgres://"), strings.HasPrefix(target, "postgresql://"):
		dsn = target
	}
	if dsn == "" {
		r, err := audit.OpenFileReader(target)
		if err != nil {
			return nil, err
		}
		prover := func(_ string, keys signing.KeySet) (audit.Prover, error) { return r.Prover(keys), nil }
		return &source{searcher: audit.FileSearcher(r), entries: r.Entries, verify: r.Verify, close: func() {}, prover: prover,
			cosigned: &witness.FileStore{Path: filepath.Join(target, audit.TreeCosignedFile)}}, nil
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("hipaakit: the PostgreSQL URL does not parse")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errors.New("hipaakit: cannot configure the PostgreSQL pool")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("hipaakit: cannot reach PostgreSQL at %s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	}
	st := pgaudit.NewStore(pool)
	prover := func(stream string, keys signing.KeySet) (audit.Prover, error) {
		if !audit.ValidStream(stream) {
			return nil, usagef("a PostgreSQL TARGET needs --stream S")
		}
		return pgaudit.NewProver(pool, stream, keys), nil
	}
	return &source{searcher: st, entries: st.Entries, verify: st.Verify, close: pool.Close, prover: prover,
		cosigned: pgaudit.NewCosignatureStore(pool)}, nil
}

// readFail reports a failed read: tampering found while verifying what was
// read is a failed check (exit 1, the first bad event named), anything else
// as fail.
func readFail(c *cli, err error) int {
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		fmt.Fprintf(c.stderr, "hipaakit audit: FAILED: the trail does not verify: first bad event: stream %s seq %d: %s\n%v\n", ve.Stream, ve.Seq, ve.Problem, ve)
		return exitCheck
	}
	return fail(c, err)
}

// fail reports err and returns its exit code.
func fail(c *cli, err error) int {
	var ue *usageErr
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "hipaakit audit: %v\n(see hipaakit audit help)\n", err)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "hipaakit audit: %v\n", err)
	return exitFailure
}

func auditVerify(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var keyFiles multiFlag
	fs.Var(&keyFiles, "key", "checkpoint public key file (repeatable)")
	expect := fs.String("expect", "", "file of checkpoint lines kept outside the log")
	sealed := fs.Bool("require-sealed", false, "fail when records follow the last checkpoint")
	since := fs.String("since", "", "format-v2 checkpoint note the log must extend")
	target, err := parseTarget(fs, args)
	if err != nil {
		return fail(c, err)
	}
	if len(keyFiles) == 0 {
		return fail(c, usagef("verify needs at least one --key"))
	}
	// forged: lines of the checkpoint file that fail the signature check
	opts, forged, err := verifyOptions(keyFiles, *expect)
	if err != nil {
		return fail(c, err)
	}
	opts.RequireSealed = *sealed
	src, err := openTarget(ctx, c, target)
	if err != nil {
		return fail(c, err)
	}
	defer src.close()
	res, err := src.verify(ctx, opts)
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		fmt.Fprintf(c.stdout, "FAILED: first bad event: stream %s seq %d: %s\n", ve.Stream, ve.Seq, ve.Problem)
		fmt.Fprintf(c.stderr, "%v\n", ve)
		return exitCheck
	}
	if err != nil {
		return fail(c, err)
	}
	if forged != nil {
		// the log agrees with every genuine checkpoint, but someone wrote
		// checkpoints into the file that no trusted key signed
		fmt.Fprintln(c.stdout, "FAILED: the --expect file holds checkpoints with a bad signature")
		fmt.Fprintf(c.stderr, "%v\n", forged)
		return exitCheck
	}
	for _, s := range res.Streams {
		fmt.Fprintf(c.stdout, "stream %s: %d records, seq %d..%d, head %s, %d checkpoints, %d unsealed\n",
			s.Stream, s.Records, s.StartSeq+1, s.LastSeq, s.Head, s.Checkpoints, s.Unsealed)
	}
	if *since != "" {
		if code := verifySince(ctx, c, target, keyFiles, *since); code != exitOK {
			return code
		}
	}
	fmt.Fprintln(c.stdout, "OK: intact")
	return exitOK
}

// readCheckpoints reads a checkpoint file (as written by
// audit.CheckpointFile) the way the library does: the latest checkpoint of
// each stream whose signature verifies with keys, an incomplete last line
// from a crash ignored. forged reports the lines whose signature does not
// verify (they are left out of cps); err an unreadable file.
func readCheckpoints(path string, keys []ed25519.PublicKey) (cps []audit.Checkpoint, forged, err error) {
	cps, err = audit.LatestCheckpoints(path, keys...)
	if errors.Is(err, audit.ErrBadSignature) {
		return cps, err, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return cps, nil, nil
}

func auditList(ctx context.Context, c *cli, cmd string, args []string) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var ff filterFlags
	ff.bind(fs)
	var rf readFlags
	rf.bind(fs)
	format := fs.String("format", "jsonl", "jsonl or csv")
	limit, after, out := new(int), new(string), new(string)
	if cmd == "query" {
		fs.IntVar(limit, "limit", audit.DefaultPageSize, "page size")
		fs.StringVar(after, "after", "", "cursor of the page to continue after")
	} else {
		fs.StringVar(out, "out", "", "output file (default stdout); created, never overwritten")
	}
	target, err := parseTarget(fs, args)
	if err != nil {
		return fail(c, err)
	}
	f, err := ff.filter()
	if err != nil {
		return fail(c, err)
	}
	if f.After, err = audit.ParseCursor(*after); err != nil {
		return fail(c, usagef("--after: %v", err))
	}
	f.Limit = *limit
	if err := f.Validate(); err != nil {
		return fail(c, &usageErr{err.Error()})
	}
	fmtKind := audit.ExportFormat(*format)
	if fmtKind != audit.ExportJSONL && fmtKind != audit.ExportCSV {
		return fail(c, usagef("--format must be jsonl or csv"))
	}
	opts, err := rf.options()
	if err != nil {
		return fail(c, err)
	}
	src, err := openTarget(ctx, c, target)
	if err != nil {
		return fail(c, err)
	}
	defer src.close()
	searcher := rf.searcher(src, opts)
	stdout := c.stdout
	if fmtKind == audit.ExportJSONL {
		stdout = c.raw // canonical bytes: an export must verify
	}
	if cmd == "query" {
		page, err := audit.Query(ctx, searcher, f)
		if err != nil {
			return readFail(c, err)
		}
		f.After = audit.Cursor{}
		if _, err := audit.Export(ctx, stdout, audit.MemorySearcher(page.Records), f, fmtKind); err != nil {
			return fail(c, err)
		}
		if !page.Next.IsZero() {
			fmt.Fprintf(c.stderr, "next: %s\n", page.Next)
		}
		return exitOK
	}
	if *out == "" {
		n, err := audit.Export(ctx, stdout, searcher, f, fmtKind)
		if err != nil {
			return readFail(c, err)
		}
		fmt.Fprintf(c.stderr, "exported %d records\n", n)
		return exitOK
	}
	n, err := exportToFile(*out, func(w io.Writer) (int64, error) {
		return audit.Export(ctx, w, searcher, f, fmtKind)
	})
	if err != nil {
		return readFail(c, err)
	}
	fmt.Fprintf(c.stderr, "exported %d records\n", n)
	return exitOK
}

// exportToFile runs export into a temporary file next to path and, only if
// it, the sync and the close all succeed, links the result into place: a
// failed export leaves nothing behind, so a rerun is not refused. An
// existing path is never overwritten.
func exportToFile(path string, export func(io.Writer) (int64, error)) (n int64, err error) {
	if _, err := os.Lstat(path); err == nil {
		return 0, &os.PathError{Op: "create", Path: path, Err: os.ErrExist}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	name, closed := tmp.Name(), false
	defer func() {
		if !closed {
			tmp.Close()
		}
		os.Remove(name) // after the link, path keeps the data
	}()
	if n, err = export(tmp); err != nil {
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	// os.Link refuses an existing path, even one created meanwhile
	if err := os.Link(name, path); err != nil {
		return 0, err
	}
	if err := durable.SyncDir(dir); err != nil {
		return 0, err
	}
	return n, nil
}

func auditDisclosures(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("disclosures", flag.ContinueOnError)
	subject := fs.String("subject", "", "patient (subject) identifier")
	since := fs.String("since", "", "from this time (default: six years ago)")
	until := fs.String("until", "", "before this time (default: now)")
	failures := fs.Bool("include-failures", false, "also list failed and denied attempts")
	tpo := fs.Bool("include-tpo", false, "also list treatment, payment and operations accesses and uses without a recipient")
	var rf readFlags
	rf.bind(fs)
	target, err := parseTarget(fs, args)
	if err != nil {
		return fail(c, err)
	}
	req := audit.AccountingRequest{Subject: *subject, IncludeFailures: *failures, IncludeTPO: *tpo}
	if req.Since, err = parseTime(*since); err != nil {
		return fail(c, usagef("--since: %v", err))
	}
	if req.Until, err = parseTime(*until); err != nil {
		return fail(c, usagef("--until: %v", err))
	}
	if req.Subject == "" {
		return fail(c, usagef("disclosures needs --subject"))
	}
	opts, err := rf.options()
	if err != nil {
		return fail(c, err)
	}
	src, err := openTarget(ctx, c, target)
	if err != nil {
		return fail(c, err)
	}
	defer src.close()
	acc, err := audit.AccountingOfDisclosures(ctx, rf.searcher(src, opts), req)
	if errors.Is(err, audit.ErrInvalidFilter) {
		return fail(c, &usageErr{err.Error()})
	}
	if err != nil {
		return readFail(c, err)
	}
	return writeAccounting(c, acc)
}
