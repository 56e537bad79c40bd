package main

// Disposal, shredding, legal holds and retention commands: the shared
// environment (which stores to open) and `hipaakit disposal ...`.
//
// Environment:
//
//	HIPAAKIT_DATA_DIR              data directory of the file stores (embedded default), in
//	                               the layout of hipaakit.Open (hipaakit.DirKeys, DirAudit, ...):
//	                               signing-key.pem, keys/, audit/, ledger/, holds/, users/,
//	                               sessions/, sweep/; the master key beside it
//	                               (see masterkey.go)
//	DATABASE_URL                   when set, keys, ledger, holds and sweep state live in
//	                               PostgreSQL instead (and the retention source reads it)
//	HIPAAKIT_SIGNING_KEY_FILE      the deployment's signing key (hipaakit.EnvSigningKeyFile):
//	                               PEM ed25519 private key that signs certificates, ledger
//	                               checkpoints and the CLI's audit checkpoints (default
//	                               <data>/signing-key.pem, created on first use in file mode);
//	                               verify-certificate reads its public key file beside it
//
// Every name is the root package's (hipaakit.ConfigFromEnv). Writing
// commands open the deployment through hipaakit.OpenTool, reading ones
// through hipaakit.Inspect. A writing run on PostgreSQL appends to streams
// of its own ("hipaakit-cli-" and "disposal-cli-" with a random suffix,
// hipaakit.Tool.InstanceID), and, given the data directory, writes its
// disposals to the ledger's mirror there too (when a service on that
// directory holds the mirror, its mirror takes them over: see
// hipaakit.Tool).
//
// In file mode a running service holds exclusive locks on the ledger and
// the audit log: run writing commands while it is stopped, or use
// PostgreSQL. Reading commands run beside it.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
)

// drUsageError is a usage problem (exit code 2).
type drUsageError struct{ msg string }

func (e *drUsageError) Error() string { return e.msg }

// openTool opens the deployment the environment describes for a writing
// command: hipaakit.OpenTool, which opens each store on first use, claims
// streams of this run's own and never runs housekeeping (see its
// documentation for the lock rules beside a running service).
func openTool(ctx context.Context, c *cli) (*hipaakit.Tool, error) {
	cfg, err := c.env()
	if err != nil {
		return nil, err
	}
	if cfg.DataDir == "" && cfg.DatabaseURL == "" {
		return nil, &drUsageError{"set " + hipaakit.EnvDataDir + " (file stores) or " + envDatabaseURL + " (PostgreSQL)"}
	}
	// The CLI names backup repositories with --repo, and a KMS endpoint
	// without a KMS key is kek migrate's target: neither is the tool's.
	cfg.Backup = hipaakit.BackupConfig{}
	if cfg.KEK.KMSKeyID == "" {
		cfg.KEK.KMSEndpoint = ""
	}
	cfg.Logger = slog.New(slog.NewTextHandler(c.stderr, nil))
	t, err := hipaakit.OpenTool(ctx, cfg)
	if err != nil {
		return nil, usageOf(err)
	}
	return t, nil
}

// inspect opens the deployment the environment describes read-only
// (hipaakit.Inspect: no lock, no stream, no write).
func inspect(ctx context.Context, c *cli) (*hipaakit.Inspection, error) {
	cfg, err := c.env()
	if err != nil {
		return nil, err
	}
	if cfg.DataDir == "" && cfg.DatabaseURL == "" {
		return nil, &drUsageError{"set " + hipaakit.EnvDataDir + " (file stores) or " + envDatabaseURL + " (PostgreSQL)"}
	}
	in, err := hipaakit.Inspect(ctx, cfg)
	if err != nil {
		return nil, usageOf(err)
	}
	return in, nil
}

// usageOf turns a *hipaakit.ConfigError (a setting to fix) into a usage
// error; other errors pass through.
func usageOf(err error) error {
	var ce *hipaakit.ConfigError
	if errors.As(err, &ce) {
		return &drUsageError{ce.Field + " " + ce.Problem + ": " + ce.Fix}
	}
	return err
}

// needDB is the tool's PostgreSQL pool, or a usage error on the file
// stores.
func needDB(t *hipaakit.Tool) (*pgxpool.Pool, error) {
	if t.DB() == nil {
		return nil, &drUsageError{"this command needs " + envDatabaseURL}
	}
	return t.DB(), nil
}

// actor is the user ID recorded for a command: --by, else "cli:$USER".
func drActor(c *cli, by string) string {
	if by != "" {
		return by
	}
	if u := c.getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "hipaakit:cli"
}

// drFail prints err and returns its exit code.
func drFail(c *cli, cmd string, err error) int {
	err = usageOf(err)
	var ue *drUsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "hipaakit %s: %s\n", cmd, ue.msg)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "hipaakit %s: %v\n", cmd, err)
	return exitFailure
}

// drParse parses flags that may come before, between or after positional
// arguments, and returns the positional ones.
func drParse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func drFlags(c *cli, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

const disposalUsage = `usage: hipaakit disposal <command>

commands:
  verify-certificate FILE [--public-key PEM]   verify a disposal certificate (exit 0 valid, 1 invalid)
  verify-ledger                                check the ledger's hash chain and entries (exit 0, or 1 if corrupt)
  replay                                       re-apply every recorded disposal to the key store (after a restore)
`

// cmdDisposal runs `hipaakit disposal ...`.
func cmdDisposal(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, disposalUsage)
		return exitUsage
	}
	switch args[0] {
	case "verify-certificate":
		return drVerifyCertificate(c, args[1:])
	case "verify-ledger", "replay":
		return drLedgerCommand(ctx, c, args[0], args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, disposalUsage)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "hipaakit disposal: unknown command %q\n\n%s", args[0], disposalUsage)
		return exitUsage
	}
}

func drVerifyCertificate(c *cli, args []string) int {
	fs := drFlags(c, "disposal verify-certificate")
	pubPath := fs.String("public-key", "", "PEM public keys (default: the public key file beside $HIPAAKIT_SIGNING_KEY_FILE or <data>/signing-key.pem)")
	pos, err := drParse(fs, args)
	if err != nil || len(pos) != 1 {
		fmt.Fprintln(c.stderr, "usage: hipaakit disposal verify-certificate FILE [--public-key PEM]")
		return exitUsage
	}
	if *pubPath == "" {
		cfg, err := c.env()
		if err != nil {
			return drFail(c, "disposal verify-certificate", err)
		}
		switch {
		case cfg.Signing.KeyFile != "":
			*pubPath = signing.PublicKeyPath(cfg.Signing.KeyFile)
		case cfg.DataDir != "":
			*pubPath = signing.PublicKeyPath(filepath.Join(cfg.DataDir, hipaakit.FileSigningKey))
		default:
			fmt.Fprintln(c.stderr, "hipaakit disposal verify-certificate: give --public-key, "+hipaakit.EnvSigningKeyFile+" or "+hipaakit.EnvDataDir)
			return exitUsage
		}
	}
	trusted, err := signing.ReadKeySet(*pubPath)
	if err != nil {
		return drFail(c, "disposal verify-certificate", err)
	}
	data, err := drReadLimited(pos[0], disposal.MaxCertificateSize+1)
	if err != nil {
		return drFail(c, "disposal verify-certificate", fmt.Errorf("read certificate: %w", durable.WithoutPath(err)))
	}
	cert, err := disposal.VerifyCertificate(data, trusted)
	if err != nil {
		fmt.Fprintf(c.stdout, "INVALID: %v\n", err)
		return exitCheck
	}
	fmt.Fprintf(c.stdout, "VALID: certificate %s\n  subject  %s\n  time     %s\n  actor    %s\n  method   %s\n  keys     %d destroyed\n  ledger   %s entry %d\n",
		audit.EscapeText(cert.ID), audit.EscapeText(cert.Subject), cert.Time.Format("2006-01-02T15:04:05.000Z"), audit.EscapeText(cert.Actor),
		audit.EscapeText(cert.Method), len(cert.KeyIDs), audit.EscapeText(cert.Ledger.Stream), cert.Ledger.Seq)
	return exitOK
}

// drReadLimited reads at most limit bytes of path.
func drReadLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// ledgerFail prints a ledger that could not be opened: CORRUPT (exit 1)
// when it does not verify.
func ledgerFail(c *cli, name string, err error) int {
	if errors.Is(err, disposal.ErrCorruptLedger) {
		fmt.Fprintf(c.stdout, "CORRUPT: %v\n", err)
		return exitCheck
	}
	return drFail(c, name, err)
}

func drLedgerCommand(ctx context.Context, c *cli, cmd string, args []string) int {
	name := "disposal " + cmd
	if len(args) != 0 {
		fmt.Fprintf(c.stderr, "usage: hipaakit %s\n", name)
		return exitUsage
	}
	if cmd == "verify-ledger" {
		// A read-only check: through hipaakit.Inspect, which takes no lock,
		// claims no stream and creates nothing.
		in, err := inspect(ctx, c)
		if err != nil {
			return drFail(c, name, err)
		}
		defer in.Close()
		ledger, err := in.Ledger(ctx)
		if err != nil {
			return ledgerFail(c, name, err)
		}
		n, err := ledger.Verify(ctx)
		if errors.Is(err, disposal.ErrCorruptLedger) {
			fmt.Fprintf(c.stdout, "CORRUPT: %v\n", err)
			return exitCheck
		}
		if err != nil {
			return drFail(c, name, err)
		}
		fmt.Fprintf(c.stdout, "OK: %d disposals, hash chain verified\n", n)
		return exitOK
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, name, err)
	}
	defer t.Close()
	ledger, err := t.ReadLedger(ctx)
	if err != nil {
		return ledgerFail(c, name, err)
	}
	keys, err := t.Keys()
	if err != nil {
		return drFail(c, name, err)
	}
	n, err := ledger.Replay(ctx, keys)
	if errors.Is(err, disposal.ErrCorruptLedger) {
		fmt.Fprintf(c.stdout, "CORRUPT: %v (nothing replayed)\n", err)
		return exitCheck
	}
	if err != nil {
		return drFail(c, name, err)
	}
	fmt.Fprintf(c.stdout, "replayed %d disposals\n", n)
	return exitOK
}
