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
// Every name is the root package's (hipaakit.ConfigFromEnv). A writing run
// on PostgreSQL appends to streams of its own ("hipaakit-cli-" and
// "disposal-cli-" with a random suffix).
//
// In file mode a running service holds exclusive locks on the ledger and
// the audit log: run these commands while it is stopped, or use PostgreSQL.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
	"github.com/hipaakit/hipaakit/signing"
)

// drEnv opens the stores the disposal and retention commands use, and
// closes them in Close.
type drEnv struct {
	c *cli
	// cfg is the deployment the environment describes; dataDir and dbURL
	// are its DataDir and DatabaseURL.
	cfg     hipaakit.Config
	dataDir string
	dbURL   string
	pool    *pgxpool.Pool
	// ledgerPool is the disposal ledger's schema (ledgerDB).
	ledgerPool *pgxpool.Pool
	closers    []func() error
}

// drUsageError is a usage problem (exit code 2).
type drUsageError struct{ msg string }

func (e *drUsageError) Error() string { return e.msg }

func newDREnv(c *cli) (*drEnv, error) {
	cfg, err := c.env()
	if err != nil {
		return nil, err
	}
	e := &drEnv{c: c, cfg: cfg, dataDir: cfg.DataDir, dbURL: cfg.DatabaseURL}
	if e.dataDir == "" && e.dbURL == "" {
		return nil, &drUsageError{"set " + hipaakit.EnvDataDir + " (file stores) or " + envDatabaseURL + " (PostgreSQL)"}
	}
	return e, nil
}

func (e *drEnv) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]() //nolint:errcheck // best effort at exit; writers report their own failures on Write
	}
	if e.ledgerPool != nil {
		e.ledgerPool.Close()
	}
	if e.pool != nil {
		e.pool.Close()
	}
}

// ledgerDB is the pool of the disposal ledger's schema, where the services
// (package hipaakit) keep it: the main schema's name plus
// hipaakit.LedgerSchemaSuffix, beside it, created when missing.
func (e *drEnv) ledgerDB(ctx context.Context) (*pgxpool.Pool, error) {
	if e.ledgerPool != nil {
		return e.ledgerPool, nil
	}
	main, err := e.db(ctx)
	if err != nil {
		return nil, err
	}
	var schema *string
	if err := main.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	if schema == nil {
		return nil, errors.New("the search_path of " + envDatabaseURL + " names no existing schema")
	}
	ledger := pgx.Identifier{*schema + hipaakit.LedgerSchemaSuffix}.Sanitize()
	if _, err := main.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ledger); err != nil {
		return nil, fmt.Errorf("create the disposal ledger's schema: %w", err)
	}
	cfg := main.Config().Copy()
	cfg.ConnConfig.RuntimeParams["search_path"] = ledger
	if e.ledgerPool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connect to the disposal ledger's schema: %w", err)
	}
	return e.ledgerPool, nil
}

func (e *drEnv) path(elem ...string) string {
	return filepath.Join(append([]string{e.dataDir}, elem...)...)
}

func (e *drEnv) db(ctx context.Context) (*pgxpool.Pool, error) {
	if e.pool != nil {
		return e.pool, nil
	}
	if e.dbURL == "" {
		return nil, &drUsageError{"this command needs " + envDatabaseURL}
	}
	pool, err := pgxpool.New(ctx, e.dbURL)
	if err != nil {
		return nil, errors.New("cannot parse " + envDatabaseURL) // never echo the URL: it may hold a password
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database unreachable: %w", err)
	}
	e.pool = pool
	return pool, nil
}

// signingKeyFile is the data directory's signing key (PEM), shared by the
// disposal certificates, the ledger and the audit checkpoints.
const signingKeyFile = hipaakit.FileSigningKey

// signingKey loads the deployment's signing key: HIPAAKIT_SIGNING_KEY_FILE,
// else the data directory's, created (with its public key file) on first
// use there.
func (e *drEnv) signingKey() (*signing.PrivateKey, error) {
	if e.cfg.Signing.KeyFile != "" {
		return signing.Load(e.cfg.Signing.KeyFile)
	}
	if e.dataDir == "" {
		return nil, &drUsageError{"set " + hipaakit.EnvSigningKeyFile + " (PEM ed25519 private key)"}
	}
	return signing.LoadOrCreate(e.path(signingKeyFile))
}

func (e *drEnv) keyStore(ctx context.Context) (phi.KeyStore, error) {
	if e.dbURL != "" {
		pool, err := e.db(ctx)
		if err != nil {
			return nil, err
		}
		if err := pgstore.Migrate(ctx, pool); err != nil {
			return nil, err
		}
		return pgstore.New(pool, pgstore.Config{}), nil
	}
	return filestore.Open(e.path(hipaakit.DirKeys), filestore.Config{})
}

// ledger opens the disposal ledger. A read-only one (write false) claims no
// stream on PostgreSQL, so that verifying, drilling or restoring beside a
// running service never takes its stream; a writing one appends to a
// stream of this run's own ("disposal-cli-" and a random suffix), so that concurrent runs and the
// services never fail each other.
func (e *drEnv) ledger(ctx context.Context, key *signing.PrivateKey, write bool) (*disposal.Ledger, error) {
	var store disposal.LedgerStore
	if e.dbURL != "" {
		pool, err := e.ledgerDB(ctx)
		if err != nil {
			return nil, err
		}
		if err := pgledger.Migrate(ctx, pool); err != nil {
			return nil, err
		}
		// pgaudit verifies a schema as a whole: trust the CLI's audit
		// stream key too when it shares the schema.
		keys := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
		if ak, err := e.auditKey(); err == nil {
			keys = append(keys, ak.Public().(ed25519.PublicKey))
		}
		if !write {
			ro, err := pgledger.OpenReadOnly(pool, keys)
			if err != nil {
				return nil, err
			}
			return disposal.NewLedger(ro), nil
		}
		stream := pgledger.StreamPrefix + "-" + runStream()
		s, err := pgledger.Open(ctx, pool, pgledger.Options{Stream: stream, Signer: key, Keys: keys})
		if err != nil {
			return nil, err
		}
		store = s
	} else {
		s, err := disposal.OpenFileLedgerStore(ctx, e.path(hipaakit.DirLedger), disposal.FileLedgerOptions{Signer: key})
		if err != nil {
			return nil, err
		}
		store = s
	}
	l := disposal.NewLedger(store)
	e.closers = append(e.closers, l.Close)
	return l, nil
}

// runStream names the streams of one CLI run: "cli-" and a random suffix.
// Every run writes streams of its own (each a sealed chain of its own in
// the trail), so two runs, or a run and a service, never share one.
func runStream() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "cli-" + hex.EncodeToString(b)
}

// auditKey is the key that signs the CLI's audit checkpoints: the
// deployment's signing key.
func (e *drEnv) auditKey() (*signing.PrivateKey, error) { return e.signingKey() }

func (e *drEnv) auditWriter(ctx context.Context) (audit.Writer, error) {
	key, err := e.auditKey()
	if err != nil {
		return nil, err
	}
	if e.dbURL != "" {
		pool, err := e.db(ctx)
		if err != nil {
			return nil, err
		}
		if err := pgaudit.Migrate(ctx, pool); err != nil {
			return nil, err
		}
		w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "hipaakit-" + runStream(), Signer: key})
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, func() error { return w.Close(context.Background()) })
		return w, nil
	}
	l, err := audit.OpenFileLog(ctx, e.path(hipaakit.DirAudit), audit.FileOptions{Signer: key})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, l.Close)
	return l, nil
}

// lazyAuditWriter is auditWriter opened on the first event: a run that
// records nothing (backup list, for one) claims no stream at all.
func (e *drEnv) lazyAuditWriter(ctx context.Context) audit.Writer {
	var once sync.Once
	var w audit.Writer
	var err error
	return audit.WriterFunc(func(wctx context.Context, ev audit.Event) error {
		once.Do(func() { w, err = e.auditWriter(ctx) })
		if err != nil {
			return err
		}
		return w.Write(wctx, ev)
	})
}

func (e *drEnv) holds(ctx context.Context, w audit.Writer) (*retention.Registry, error) {
	var store retention.HoldStore
	if e.dbURL != "" {
		pool, err := e.db(ctx)
		if err != nil {
			return nil, err
		}
		if err := pgretention.Migrate(ctx, pool); err != nil {
			return nil, err
		}
		store = pgretention.NewHoldStore(pool)
	} else {
		s, err := retention.OpenFileHoldStore(e.path(hipaakit.DirHolds))
		if err != nil {
			return nil, err
		}
		store = s
	}
	return retention.NewRegistry(retention.RegistryConfig{Holds: store, Audit: w})
}

// shredder wires a disposal.Shredder. The CLI holds no key cache, so the
// key store itself destroys the keys (phi.KeyStore implements
// disposal.KeyDestroyer).
func (e *drEnv) shredder(ctx context.Context) (*disposal.Shredder, *retention.Registry, error) {
	key, err := e.signingKey()
	if err != nil {
		return nil, nil, err
	}
	keys, err := e.keyStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	ledger, err := e.ledger(ctx, key, true)
	if err != nil {
		return nil, nil, err
	}
	w, err := e.auditWriter(ctx)
	if err != nil {
		return nil, nil, err
	}
	reg, err := e.holds(ctx, w)
	if err != nil {
		return nil, nil, err
	}
	s, err := disposal.New(disposal.Config{Vault: keys, Keys: keys, Ledger: ledger, Audit: w, Holds: reg, SigningKey: key})
	return s, reg, err
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
			*pubPath = signing.PublicKeyPath(filepath.Join(cfg.DataDir, signingKeyFile))
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
	env, err := newDREnv(c)
	if err != nil {
		return drFail(c, name, err)
	}
	defer env.Close()
	var ledger *disposal.Ledger
	if cmd == "verify-ledger" {
		// A read-only check: through hipaakit.Inspect, which takes no lock,
		// claims no stream and creates nothing.
		in, err := hipaakit.Inspect(ctx, env.cfg)
		if err != nil {
			return drFail(c, name, err)
		}
		defer in.Close()
		ledger, err = in.Ledger(ctx)
		if err != nil {
			return ledgerFail(c, name, err)
		}
	} else {
		key, err := env.signingKey()
		if err != nil {
			return drFail(c, name, err)
		}
		if ledger, err = env.ledger(ctx, key, false); err != nil {
			return ledgerFail(c, name, err)
		}
	}
	if cmd == "verify-ledger" {
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
	keys, err := env.keyStore(ctx)
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
