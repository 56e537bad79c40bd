package hipaakit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/signing"
)

// Deployment is an opened deployment: every component as a field, ready
// to use, and the operations on the whole as methods. Fields are set by
// Open and must not be replaced. Close releases everything.
type Deployment struct {
	// Vault seals and opens PHI with per-subject keys.
	Vault *phi.Vault
	// Keys is the key store under the Vault; KEK wraps its keysets.
	Keys phi.KeyStore
	KEK  phi.KEK
	// Audit is the one audit trail every component writes to.
	Audit audit.Trail
	// Users, Sessions and Emergencies are the auth stores.
	Users       auth.UserStore
	Sessions    auth.SessionStore
	Emergencies auth.EmergencyLog
	// Auth is the auth service (auth.New): logins and credentials,
	// sessions and tenant policy, RBAC, the auth endpoints.
	Auth *auth.Service
	// Ledger records disposals; Shredder crypto-shreds subjects; Holds is
	// the legal-hold registry the Shredder and the backups respect.
	Ledger   *disposal.Ledger
	Shredder *disposal.Shredder
	Holds    *retention.Registry
	// Incidents is the breach incident store (breach.Store: the file
	// store under DirBreach, or breach/pgbreach), for breach.New.
	Incidents breach.Store
	// Backups is the backup repository; BackupSources are what a backup
	// covers and Drills how each kind is restored in a drill.
	Backups       *backup.Repository
	BackupSources []backup.Source
	Drills        []Drill
	// DB is the PostgreSQL pool of the main schema (nil on the embedded
	// stores), for the application's own tables.
	DB *pgxpool.Pool
	// Schema and LedgerSchema are the PostgreSQL schemas in use (empty on
	// the embedded stores).
	Schema, LedgerSchema string
	// InstanceID, Clock and Logger are those of the Config, defaults filled.
	InstanceID string
	Clock      clock.Clock
	Logger     *slog.Logger

	cfg           Config
	tenants       policy.Source
	signKey       *signing.PrivateKey
	key           KeyPlace
	kekCreated    bool
	challengeKey  []byte // signs auth's login challenges (challenge_key.go)
	purgeAttempts func(ctx context.Context, cutoff time.Time) error
	ledgerStore   disposal.LedgerStore
	ledgerMirror  disposal.LedgerStore // nil on the embedded stores
	mirrorHeld    bool                 // a Tool found the mirror held by another process
	extraReplay   *disposal.Ledger     // another ledger start-up replays (openS3LedgerMirror)
	auditEntries  audit.EntrySource
	holdStore     retention.HoldStore
	attempts      auth.AttemptStore
	ledgerPool    *pgxpool.Pool
	leases        *leases
	backupTgt     backup.Target
	protectOnce   sync.Once
	closers       []func() error
}

// Drill is one restore drill: the newest backup of Kind restored into the
// scratch space Sink returns (nil: the backup package's default for Kind).
type Drill struct {
	Kind string
	Sink func() backup.Sink
}

// Open builds the deployment cfg describes. It fails with a clear error,
// never holding a secret, for an unsafe Config (ErrUnsafeConfig), a locked
// data directory (ErrDataDirLocked), an unreachable database
// (ErrDatabaseUnreachable) or a wrong key (ErrWrongKEK, ErrKMSOverLocalKeys).
func Open(ctx context.Context, cfg Config) (*Deployment, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Deployment{cfg: cfg, Clock: clock.OrSystem(cfg.Clock), Logger: cfg.Logger}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if err := d.open(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// open builds d from d.cfg, in the one safe order: every start-up check
// (the data-directory lock, the master key against a stored keyset, the
// migrations, the disposal ledger against the trusted signing keys, the
// stream leases) passes before anything of the deployment is written — no
// stream claim, checkpoint, signing key, instance ID or ledger entry — so
// that a refused start leaves the deployment as it found it. On error the
// caller closes what it opened.
func (d *Deployment) open(ctx context.Context) (err error) {
	cfg := d.cfg
	if err := d.lockDataDir(); err != nil {
		return err
	}
	id, freshID, err := d.instanceID()
	if err != nil {
		return err
	}
	d.InstanceID = id
	d.Logger = d.Logger.With("instance", d.InstanceID)
	keyFile := cmp.Or(cfg.Signing.KeyFile, d.path(FileSigningKey))
	newSignKey, err := d.loadSigningKey(keyFile)
	if err != nil {
		return err
	}
	if err := d.openKEK(ctx); err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		err = d.openPGBase(ctx)
	} else {
		err = d.openFileKeys()
	}
	if err != nil {
		return err
	}
	if err := d.checkMasterKey(ctx); err != nil {
		return err
	}
	if err := d.loadChallengeKey(ctx); err != nil {
		return err
	}
	if err := d.checkSigned(ctx, newSignKey); err != nil {
		return err
	}
	if err := d.openBackups(ctx); err != nil {
		return err
	}
	// Every check passed: from here on the start writes.
	if newSignKey {
		if err := signing.Save(keyFile, d.signKey); err != nil {
			return fmt.Errorf("hipaakit: save the new signing key: %w", durable.WithoutPath(err))
		}
	}
	if err := d.persistInstanceID(freshID); err != nil {
		return err
	}
	if err := d.createChallengeKey(ctx); err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		err = d.openPGStores(ctx)
	} else {
		err = d.openFileStores(ctx)
	}
	if err != nil {
		return err
	}
	if d.Vault, err = phi.NewVault(phi.VaultConfig{Keys: d.Keys, KEK: d.KEK, Clock: d.Clock, Audit: d.Audit,
		AuditInfo: revealAuditInfo, BlindIndexes: cfg.BlindIndexes}); err != nil {
		return fmt.Errorf("hipaakit: vault: %w", err)
	}
	// The Vault listens for key changes made by other processes (shreds,
	// rotations) when the key store announces them; Close stops it.
	d.closers = append(d.closers, d.Vault.Close)
	if err := d.openAuth(); err != nil {
		return err
	}
	d.startHousekeeping()
	if err := d.openDisposal(ctx); err != nil {
		return err
	}
	if err := d.initBackups(ctx); err != nil {
		return err
	}
	if err := d.writeDescription(ctx); err != nil {
		return err
	}
	if d.kekCreated {
		// Announced once the start succeeded, so that a refused start says
		// only why.
		d.Logger.Warn("hipaakit: created the local master key; back it up apart from the data and its backups, "+
			"or set "+EnvMasterKey+" or use AWS KMS", "key_file", filepath.Base(d.key.File))
	}
	return nil
}

// loadSigningKey loads the signing key at file, or draws a new one (kept
// in memory until the start-up checks have passed; new reports it).
func (d *Deployment) loadSigningKey(file string) (new bool, err error) {
	d.signKey, err = signing.Load(file)
	if errors.Is(err, fs.ErrNotExist) {
		d.signKey, err = signing.Generate()
		new = true
	}
	if err != nil {
		return false, fmt.Errorf("hipaakit: signing key: %w", durable.WithoutPath(err))
	}
	return new, nil
}

// path is name inside the data directory.
func (d *Deployment) path(name string) string { return filepath.Join(d.cfg.DataDir, name) }

// DataPath returns name (a Layout constant or an application directory)
// inside the data directory.
func (d *Deployment) DataPath(name string) string { return d.path(name) }

// KeyLocation says where the key-encryption key is; KeyInsideDataDir is
// its InsideDataDir.
func (d *Deployment) KeyLocation() KeyPlace { return d.key }

// KeyInsideDataDir reports a local master key kept inside the data
// directory (a legacy deployment): a gap under 45 CFR 164.312(a)(2)(iv).
func (d *Deployment) KeyInsideDataDir() bool { return d.key.InsideDataDir }

// AuditEntries reads the whole audit trail (every stream, records and
// checkpoints) in the order a Verifier expects, for readers that must
// verify what they read (audit.VerifiedSearcher with TrustedKeys, the
// breach scoping).
func (d *Deployment) AuditEntries() audit.EntrySource { return d.auditEntries }

// TrustedKeys is the set of public keys that verify the deployment's audit
// checkpoints, ledger checkpoints and disposal certificates: the current
// signing key first, then Signing.Trusted.
func (d *Deployment) TrustedKeys() signing.KeySet {
	s, err := signing.NewKeySet(d.signKey.PublicKey())
	if err == nil {
		s, err = s.With(d.cfg.Signing.Trusted.Keys()...)
	}
	if err != nil {
		return signing.KeySet{} // two different keys with one 64-bit KeyID
	}
	return s
}

// lockDataDir creates the data directory and takes its lock, held until
// Close: one process per data directory.
func (d *Deployment) lockDataDir() error {
	if err := os.MkdirAll(d.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("hipaakit: create the data directory: %w", durable.WithoutPath(err))
	}
	lock, err := durable.TryLock(d.path(FileLock))
	if errors.Is(err, durable.ErrLocked) {
		return ErrDataDirLocked
	}
	if err != nil {
		return fmt.Errorf("hipaakit: lock the data directory: %w", durable.WithoutPath(err))
	}
	d.closers = append(d.closers, lock.Unlock)
	return nil
}

// openKEK opens the key-encryption key KeyLocation names.
func (d *Deployment) openKEK(ctx context.Context) error {
	k := d.cfg.KEK
	d.key = KeyLocation(d.cfg)
	var err error
	switch d.key.Kind {
	case KeyInKMS:
		if d.KEK, err = awskms.LoadDefault(ctx, awskms.Config{KeyID: k.KMSKeyID, Endpoint: k.KMSEndpoint, Region: k.KMSRegion}); err != nil {
			return fmt.Errorf("hipaakit: AWS KMS key: %w", err)
		}
		return nil
	case KeyByValue:
		d.KEK, err = localkek.Parse(k.Key)
	default:
		_, statErr := os.Stat(d.key.File)
		var kek *localkek.KEK
		kek, err = localkek.FromFile(d.key.File)
		d.KEK, d.kekCreated = kek, err == nil && errors.Is(statErr, os.ErrNotExist)
		if err == nil && d.key.InsideDataDir {
			d.Logger.Warn("hipaakit: the master key file is inside the data directory, so a copy of the directory decrypts every record; " +
				"move it out (default: the data directory's name plus " + DefaultKeyFileSuffix + ") or use AWS KMS")
		}
	}
	if err != nil {
		return fmt.Errorf("hipaakit: master key: %w", durable.WithoutPath(err))
	}
	return nil
}

// checkMasterKey opens one stored keyset's KEK ID, so that a wrong master
// key stops the start with a clear message instead of failing every
// request.
func (d *Deployment) checkMasterKey(ctx context.Context) error {
	ks, err := d.Keys.List(ctx, "", 1)
	if err != nil {
		return fmt.Errorf("hipaakit: list stored keys: %w", err)
	}
	if len(ks) == 0 || ks[0].KEKID == d.KEK.ID() {
		return nil
	}
	stored := ks[0].KEKID
	if d.kekCreated {
		if err := d.removeCreatedKEK(); err != nil {
			return err
		}
		return fmt.Errorf("%w: the stored keys were wrapped by %s, but there is no master key file %s; "+
			"set %s (or KMS) to that key or restore the file", ErrWrongKEK, stored, filepath.Base(d.key.File), EnvMasterKey)
	}
	if d.key.Kind == KeyInKMS && strings.HasPrefix(stored, "local:") {
		return &ConfigError{Field: "KEK.KMSKeyID", Problem: "the stored keys are wrapped by a local master key (" + stored + ")",
			Fix: "re-wrap them under the KMS key first with `hipaakit kek migrate`, or open with the local master key", Cause: ErrKMSOverLocalKeys}
	}
	return fmt.Errorf("%w: the key-encryption key (%s) is not the one that wrapped the stored keys (%s); "+
		"set %s (or KMS) to the right key or open the matching data directory", ErrWrongKEK, d.KEK.ID(), stored, EnvMasterKey)
}

// removeCreatedKEK removes the master key file this start created, on a
// refused start: it wraps nothing.
func (d *Deployment) removeCreatedKEK() error {
	if !d.kekCreated {
		return nil
	}
	d.kekCreated = false
	if err := os.Remove(d.key.File); err != nil {
		return fmt.Errorf("hipaakit: remove the new master key file: %w", durable.WithoutPath(err))
	}
	return nil
}

// Close stops the housekeeping and releases everything in reverse order of
// opening. It is safe to call more than once.
func (d *Deployment) Close() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// revealAuditInfo names who reveals PHI through the Vault: the signed-in
// user of the request whose context reaches it, and the request's route
// pattern when the request came through Protect.
func revealAuditInfo(ctx context.Context) (audit.Actor, audit.Origin) {
	actor, _ := auth.ActorFromContext(ctx)
	return actor, audit.Origin{Channel: audit.ChannelAPI, Route: routeFrom(ctx)}
}

// String names the deployment without any of its keys or its database URL.
func (d *Deployment) String() string {
	return fmt.Sprintf("hipaakit.Deployment{instance: %s, PostgreSQL: %t}", d.InstanceID, d.DB != nil)
}

// Format keeps every fmt verb on String: a Deployment holds the signing key
// and the key-encryption key.
func (d *Deployment) Format(f fmt.State, _ rune) { fmt.Fprint(f, d.String()) }

// LogValue keeps the keys out of logs.
func (d *Deployment) LogValue() slog.Value { return slog.StringValue(d.String()) }

// MarshalJSON refuses to serialise a Deployment.
func (d *Deployment) MarshalJSON() ([]byte, error) {
	return nil, errors.New("hipaakit: a Deployment holds keys and is not serialised")
}
