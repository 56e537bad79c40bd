package hipaakit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/signing"
)

// ErrMissing reports that Inspect found no deployment, or an Inspection
// found no store of the kind asked for. The *MissingError that carries it
// names what is missing.
var ErrMissing = errors.New("hipaakit: not found")

// MissingError names what an Inspection did not find: "the data
// directory", "the audit trail (audit/)", "the key store (keys/)", ...
// It never holds a path. errors.Is(err, ErrMissing) holds.
type MissingError struct{ What string }

func (e *MissingError) Error() string { return "hipaakit: " + e.What + " does not exist" }

// Is makes errors.Is(err, ErrMissing) hold.
func (e *MissingError) Is(target error) bool { return target == ErrMissing }

// AuditReader reads a whole audit trail without writing to it: search (in
// chain order too), verification, every entry in the order a Verifier
// expects, and export. The file log's reader and pgaudit.Store back it.
type AuditReader interface {
	audit.ChainSearcher
	Verify(ctx context.Context, opts audit.VerifyOptions) (audit.Result, error)
	Entries(ctx context.Context) iter.Seq2[audit.Entry, error]
	Export(ctx context.Context, w io.Writer, f audit.Filter, format audit.ExportFormat) (int64, error)
}

// Inspection is a deployment opened read-only by Inspect, for tools that
// must run beside the live service (the CLI's read commands, the compliance
// report). It takes no lock, creates no key or directory, claims no stream
// and writes nothing: on PostgreSQL every session runs with
// default_transaction_read_only. The file stores are read without their
// locks (they replace files atomically or append, so a reader sees whole
// records while the service writes).
//
// Each store is opened on first use; one the deployment never created is a
// *MissingError naming it. Close releases the connections.
type Inspection struct {
	// Schema and LedgerSchema are the PostgreSQL schemas read (empty on
	// the embedded stores).
	Schema, LedgerSchema string
	// DB is a read-only pool of the main schema (nil on the embedded
	// stores).
	DB *pgxpool.Pool

	cfg        Config
	clock      clock.Clock
	trusted    signing.KeySet
	ledgerPool *pgxpool.Pool
	kekOnce    sync.Once
	kek        phi.KEK
	kekErr     error
	closers    []func()
}

// Inspect opens the existing deployment cfg describes for reading only:
// it takes no data-directory lock, never creates a key, a directory or a
// schema, claims no stream and writes nothing. It refuses a deployment that
// does not exist with a *MissingError (ErrMissing): no data directory on
// the embedded stores, no audit tables in the schema on PostgreSQL, or no
// trusted signing key at all (neither the signing key nor its public key
// file, and no Signing.Trusted). Other errors: ErrUnsafeConfig,
// ErrBadDatabaseURL, ErrDatabaseUnreachable, ErrNoSchema.
//
// The trusted keys are the public key of the signing key (Signing.KeyFile,
// default DataDir/FileSigningKey, or the public key file beside it) when
// it exists, then Signing.Trusted.
func Inspect(ctx context.Context, cfg Config) (*Inspection, error) {
	validate := cfg.Validate
	if cfg.DatabaseURL != "" {
		validate = cfg.validateSettings // the data directory is optional
	}
	if err := validate(); err != nil {
		return nil, err
	}
	in := &Inspection{cfg: cfg, clock: clock.OrSystem(cfg.Clock)}
	if err := in.open(ctx); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

func (in *Inspection) open(ctx context.Context) error {
	if st, err := os.Stat(in.cfg.DataDir); (err != nil || !st.IsDir()) && in.cfg.DatabaseURL == "" {
		return &MissingError{What: "the data directory"}
	}
	if in.cfg.DatabaseURL != "" {
		if err := in.openPG(ctx); err != nil {
			return err
		}
	}
	var err error
	in.trusted, err = in.trustedKeys()
	return err
}

// openPG connects read-only and finds the schemas.
func (in *Inspection) openPG(ctx context.Context) error {
	pcfg, err := pgxpool.ParseConfig(in.cfg.DatabaseURL)
	if err != nil {
		return ErrBadDatabaseURL
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	pcfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	pcfg.MaxConns = 4
	if in.DB, err = in.pool(ctx, pcfg); err != nil {
		return err
	}
	var schema *string
	if err := in.DB.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("hipaakit: PostgreSQL: %w", err)
	}
	if schema == nil {
		return ErrNoSchema
	}
	in.Schema = *schema
	in.LedgerSchema = cmp.Or(in.cfg.LedgerSchema, in.Schema+LedgerSchemaSuffix)
	var audits, ledgerSchema bool
	if err := in.DB.QueryRow(ctx, `SELECT to_regclass('hipaakit_audit_streams') IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, in.LedgerSchema).Scan(&audits, &ledgerSchema); err != nil {
		return fmt.Errorf("hipaakit: PostgreSQL: %w", err)
	}
	if !audits {
		return &MissingError{What: "the audit trail's tables (schema " + in.Schema + ")"}
	}
	if !ledgerSchema {
		return &MissingError{What: "the disposal ledger's schema " + in.LedgerSchema}
	}
	c := pcfg.Copy()
	c.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{in.LedgerSchema}.Sanitize()
	in.ledgerPool, err = in.pool(ctx, c)
	return err
}

// pool connects read-only and closes the pool with the Inspection.
func (in *Inspection) pool(ctx context.Context, pcfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, ErrBadDatabaseURL
	}
	in.closers = append(in.closers, pool.Close)
	pctx, cancel := context.WithTimeout(ctx, 2*pcfg.ConnConfig.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, unreachable(pcfg.ConnConfig, err)
	}
	return pool, nil
}

// trustedKeys is the signing key's public key, when it exists, then
// Signing.Trusted.
func (in *Inspection) trustedKeys() (signing.KeySet, error) {
	file := in.cfg.Signing.KeyFile
	if file == "" && in.cfg.DataDir != "" {
		file = filepath.Join(in.cfg.DataDir, FileSigningKey)
	}
	var own signing.KeySet
	err := fs.ErrNotExist
	if file != "" {
		own, err = signing.ReadKeySet(signing.PublicKeyPath(file))
	}
	if errors.Is(err, fs.ErrNotExist) && file != "" {
		var priv *signing.PrivateKey
		if priv, err = signing.Load(file); err == nil {
			own, err = signing.NewKeySet(priv.PublicKey())
		}
	}
	switch {
	case err == nil:
		s, err := own.With(in.cfg.Signing.Trusted.Keys()...)
		if err != nil {
			return signing.KeySet{}, fmt.Errorf("hipaakit: trusted signing keys: %w", err)
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return signing.KeySet{}, fmt.Errorf("hipaakit: signing key: %w", durable.WithoutPath(err))
	case in.cfg.Signing.Trusted.Len() == 0:
		return signing.KeySet{}, &MissingError{What: "the signing key (" + FileSigningKey + ", and no Signing.Trusted)"}
	}
	return in.cfg.Signing.Trusted, nil
}

// TrustedKeys is the set of public keys that verify the deployment's audit
// checkpoints, ledger checkpoints and disposal certificates.
func (in *Inspection) TrustedKeys() signing.KeySet { return in.trusted }

// KeyLocation says where the key-encryption key is (KeyLocation of the
// Config).
func (in *Inspection) KeyLocation() KeyPlace { return KeyLocation(in.cfg) }

// KeyInsideDataDir reports a local master key file kept inside the data
// directory, a gap under 45 CFR 164.312(a)(2)(iv): the configured key file
// when it exists there, or the legacy DataDir/kek.key whenever it exists
// (also when the key is given by value or KMS is used: the file is still
// there for a copy of the directory to take).
func (in *Inspection) KeyInsideDataDir() bool {
	if in.cfg.DataDir == "" {
		return false
	}
	if _, err := os.Lstat(filepath.Join(in.cfg.DataDir, FileLegacyKEK)); err == nil {
		return true
	}
	k := in.KeyLocation()
	if k.Kind != KeyInFile || !k.InsideDataDir {
		return false
	}
	_, err := os.Lstat(k.File)
	return err == nil
}

// dir returns the store directory name under the data directory, or a
// *MissingError naming the store.
func (in *Inspection) dir(name, what string) (string, error) {
	p := filepath.Join(in.cfg.DataDir, name)
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &MissingError{What: what + " (" + name + "/)"}
	}
	if err != nil {
		return "", fmt.Errorf("hipaakit: %s/: %w", name, durable.WithoutPath(err))
	}
	if !st.IsDir() {
		return "", fmt.Errorf("hipaakit: %s/ under the data directory is not a directory", name)
	}
	return p, nil
}

// KeyStore returns the key store, for listing: the Inspection never writes
// to it. The file store is opened only when it holds its layout marker
// (phi/filestore.Open removes the temporary files a crashed writer left
// behind, the only files an Inspection can cause to be removed, and only
// while no writer holds the store's lock).
func (in *Inspection) KeyStore() (phi.KeyStore, error) {
	if in.DB != nil {
		return pgstore.New(in.DB, pgstore.Config{Clock: in.clock}), nil
	}
	dir, err := in.dir(DirKeys, "the key store")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "FORMAT")); err != nil {
		return nil, &MissingError{What: "the key store (" + DirKeys + "/ holds no FORMAT marker)"}
	}
	return filestore.Open(dir, filestore.Config{Clock: in.clock})
}

// Audit returns the audit trail, read-only: on PostgreSQL every stream of
// the main schema, on the embedded stores the file log (its verification
// tries the log's lock for an instant, without waiting, to tell a write in
// progress from a torn line).
func (in *Inspection) Audit() (AuditReader, error) {
	if in.DB != nil {
		return pgReader{pgaudit.NewStore(in.DB)}, nil
	}
	dir, err := in.dir(DirAudit, "the audit trail")
	if err != nil {
		return nil, err
	}
	r, err := audit.OpenFileReader(dir)
	if err != nil {
		return nil, err
	}
	return fileReader{FileReader: r, ChainSearcher: audit.FileSearcher(r)}, nil
}

type fileReader struct {
	*audit.FileReader
	audit.ChainSearcher
}

func (r fileReader) Export(ctx context.Context, w io.Writer, f audit.Filter, format audit.ExportFormat) (int64, error) {
	return audit.Export(ctx, w, r, f, format)
}

type pgReader struct{ *pgaudit.Store }

func (r pgReader) Export(ctx context.Context, w io.Writer, f audit.Filter, format audit.ExportFormat) (int64, error) {
	return audit.Export(ctx, w, r, f, format)
}

// Ledger returns the disposal ledger, read-only (appending fails with
// disposal.ErrReadOnly), verified with TrustedKeys: on PostgreSQL every
// replica's stream of the ledger's schema, read without claiming one.
func (in *Inspection) Ledger(ctx context.Context) (*disposal.Ledger, error) {
	keys := in.trusted
	if in.ledgerPool != nil {
		ro, err := pgledger.OpenReadOnly(in.ledgerPool, keys)
		if err != nil {
			return nil, err
		}
		return disposal.NewLedger(ro), nil
	}
	dir, err := in.dir(DirLedger, "the disposal ledger")
	if err != nil {
		return nil, err
	}
	s, err := disposal.OpenFileLedgerReader(ctx, dir, disposal.FileLedgerOptions{Keys: keys, Clock: in.clock})
	if err != nil {
		return nil, err
	}
	return disposal.NewLedger(s), nil
}

// Close releases the database connections. It is safe to call more than
// once.
func (in *Inspection) Close() error {
	for i := len(in.closers) - 1; i >= 0; i-- {
		in.closers[i]()
	}
	in.closers = nil
	return nil
}
