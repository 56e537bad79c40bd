package hipaakit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/signing"
)

// ToolInstancePrefix begins the instance ID of every Tool: a run's audit
// stream is "hipaakit-cli-" and its ledger stream "disposal-cli-", each
// followed by the run's random suffix.
const ToolInstancePrefix = "cli-"

// Tool is a deployment opened by a short-lived administrative process
// (OpenTool): the CLI's writing commands. It opens the same stores, in the
// same layout and with the same settings as Open, but only those a command
// asks for, on first use, and it differs from a Deployment in what it
// never does:
//
//   - Its instance ID is drawn per run (ToolInstancePrefix and 12 random hex
//     digits; Config.InstanceID, the service's, is ignored) and never
//     persisted, so a run's audit and ledger streams on PostgreSQL are its
//     own: a run never shares a stream with a service or another run, and
//     takes no stream lease (no other process can name its streams).
//   - A stream is claimed only when a command records something (Audit,
//     Ledger and what opens them); reading commands claim none. Reads
//     belong to Inspect (Tool.Inspect), which writes nothing.
//   - No housekeeping (no session sweep, no lease heartbeat), no service
//     description, no disposal-ledger replay at start, no instance-ID
//     file, and no new master key: the KEK is read as ReadKEK reads it.
//     The signing key is created on first use when the data directory has
//     none, as Open creates it.
//
// Lock rules on the embedded stores. OpenTool takes no data-directory lock
// (FileLock). Each file store a Tool opens takes that store's own lock, as
// the service does: the audit log, the disposal ledger, the user, session
// and login-attempt stores, the emergency log, the breach incidents and
// the sweep state, each without waiting. While a service runs on the
// directory it holds all of them, so every command that records an audit
// event fails before changing anything (the error matches
// durable.ErrLocked): run such commands while the service is stopped, or
// use PostgreSQL. The key store serialises its writers across processes,
// and the legal-hold store replaces whole files atomically. What a Tool or
// an Inspection may do beside a running service: every read (Inspect), and
// backups that record nothing (listing).
//
// The disposal ledger's mirror on PostgreSQL (DirLedgerMirror, see
// disposal.NewMirroredLedger). With a data directory, Ledger opens its
// mirror and every disposal the run records is written there too. When a
// service holds the mirror (it runs on that directory), the run records in
// PostgreSQL only and Ledger's MirrorHeld reports it: the service's
// mirror takes the entry over at the service's next start (Open replays
// the ledger into the mirror) or its next housekeeping pass (Sweep copies
// what the mirror lacks), whichever comes first. Without a data directory
// there is no mirror; every service's mirror takes the entry over the same
// way.
//
// A Tool is for one goroutine at a time; what its methods return is safe
// for concurrent use as its package documents. Close releases everything.
type Tool struct {
	// InstanceID names this run (ToolInstancePrefix and a random suffix).
	InstanceID string
	// Clock and Logger are those of the Config, defaults filled.
	Clock  clock.Clock
	Logger *slog.Logger

	d                                  *Deployment
	signed, audited, ledgered, holding bool
	keysOpen, authOpen, incidentsOpen  bool
	shredder                           *disposal.Shredder
	authSvc                            *auth.Service
}

// OpenTool opens the deployment cfg describes for a short-lived
// administrative process (see Tool). DataDir is optional on PostgreSQL
// (Signing.KeyFile then names the signing key, and there is no ledger
// mirror). On PostgreSQL it connects and runs every store's migrations, as
// Open does; on the embedded stores it opens nothing yet. Errors:
// ErrUnsafeConfig, ErrBadDatabaseURL, ErrDatabaseUnreachable, ErrNoSchema.
func OpenTool(ctx context.Context, cfg Config) (*Tool, error) {
	validate := cfg.Validate
	if cfg.DatabaseURL != "" {
		validate = cfg.validateSettings
	}
	if err := validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	d := &Deployment{cfg: cfg, Clock: clock.OrSystem(cfg.Clock), Logger: cfg.Logger,
		InstanceID: ToolInstancePrefix + hex.EncodeToString(b)}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	d.Logger = d.Logger.With("instance", d.InstanceID)
	t := &Tool{InstanceID: d.InstanceID, Clock: d.Clock, Logger: d.Logger, d: d}
	if cfg.DatabaseURL != "" {
		err := d.openPGBase(ctx)
		if err == nil {
			err = d.openPGOthers()
		}
		if err != nil {
			d.Close()
			return nil, err
		}
		t.keysOpen, t.authOpen, t.incidentsOpen = true, true, true
	}
	return t, nil
}

// Close releases everything the Tool opened, sealing its streams. It is
// safe to call more than once.
func (t *Tool) Close() error { return t.d.Close() }

// String names the run without any key or the database URL.
func (t *Tool) String() string {
	return fmt.Sprintf("hipaakit.Tool{instance: %s, PostgreSQL: %t}", t.InstanceID, t.d.DB != nil)
}

// Format keeps every fmt verb on String: a Tool holds the signing key.
func (t *Tool) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue keeps the keys out of logs.
func (t *Tool) LogValue() slog.Value { return slog.StringValue(t.String()) }

// DB is the PostgreSQL pool of the main schema (nil on the embedded
// stores).
func (t *Tool) DB() *pgxpool.Pool { return t.d.DB }

// DataPath returns name inside the data directory, or "" when the Config
// names none (PostgreSQL without a data directory).
func (t *Tool) DataPath(name string) string {
	if t.d.cfg.DataDir == "" {
		return ""
	}
	return t.d.path(name)
}

// AuditStream and LedgerStream are the run's streams on PostgreSQL.
func (t *Tool) AuditStream() string  { return t.d.AuditStream() }
func (t *Tool) LedgerStream() string { return t.d.LedgerStream() }

// Inspect opens the same deployment read-only (see Inspect).
func (t *Tool) Inspect(ctx context.Context) (*Inspection, error) { return Inspect(ctx, t.d.cfg) }

// KEK reads the key-encryption key as ReadKEK does, never creating one.
func (t *Tool) KEK(ctx context.Context) (phi.KEK, error) { return ReadKEK(ctx, t.d.cfg) }

// signingKey loads the signing key (Signing.KeyFile, else the data
// directory's), creating it on first use as Open does.
func (t *Tool) signingKey() (*signing.PrivateKey, error) {
	if t.signed {
		return t.d.signKey, nil
	}
	file := t.d.cfg.Signing.KeyFile
	if file == "" {
		if t.d.cfg.DataDir == "" {
			return nil, &ConfigError{Field: "Signing.KeyFile", Problem: "not set, and there is no data directory to hold the signing key",
				Fix: "set " + EnvSigningKeyFile + " to the deployment's signing key (PEM ed25519 private key)"}
		}
		file = t.d.path(FileSigningKey)
	}
	created, err := t.d.loadSigningKey(file)
	if err != nil {
		return nil, err
	}
	if created {
		if err := signing.Save(file, t.d.signKey); err != nil {
			return nil, fmt.Errorf("hipaakit: save the new signing key: %w", durable.WithoutPath(err))
		}
	}
	t.signed = true
	return t.d.signKey, nil
}

// SigningKey is the deployment's signing key, created on first use when
// the data directory holds none (as Open does).
func (t *Tool) SigningKey() (*signing.PrivateKey, error) { return t.signingKey() }

// TrustedKeys is the signing key's public key, then Signing.Trusted.
func (t *Tool) TrustedKeys() (signing.KeySet, error) {
	if _, err := t.signingKey(); err != nil {
		return signing.KeySet{}, err
	}
	return t.d.TrustedKeys(), nil
}

// Keys is the key store. The Tool holds no key cache: a shred destroys
// the keys in the store itself, and the services' Vaults drop theirs when
// the store announces the change.
func (t *Tool) Keys() (phi.KeyStore, error) {
	if !t.keysOpen {
		if err := t.d.openFileKeys(); err != nil {
			return nil, err
		}
		t.keysOpen = true
	}
	return t.d.Keys, nil
}

// Audit opens the audit trail for writing on first use: on PostgreSQL it
// claims the run's own stream (AuditStream), on the embedded stores it
// takes the file log's lock.
func (t *Tool) Audit(ctx context.Context) (audit.Trail, error) {
	if t.audited {
		return t.d.Audit, nil
	}
	if _, err := t.signingKey(); err != nil {
		return nil, err
	}
	var err error
	if t.d.DB != nil {
		err = t.d.openPGAudit(ctx)
	} else {
		err = t.d.openFileAudit(ctx)
	}
	if err != nil {
		return nil, err
	}
	t.audited = true
	return t.d.Audit, nil
}

// LazyAudit is a writer that opens Audit on the first event it is given:
// a run that records nothing claims no stream and takes no lock.
func (t *Tool) LazyAudit(ctx context.Context) audit.Writer {
	return audit.WriterFunc(func(wctx context.Context, e audit.Event) error {
		w, err := t.Audit(ctx)
		if err != nil {
			return err
		}
		return w.Write(wctx, e)
	})
}

// Ledger opens the disposal ledger for recording on first use: on
// PostgreSQL the run's own stream (LedgerStream) and, with a data
// directory, its mirror (see Tool); on the embedded stores the file ledger
// with its lock.
func (t *Tool) Ledger(ctx context.Context) (*disposal.Ledger, error) {
	if !t.ledgered {
		if _, err := t.signingKey(); err != nil {
			return nil, err
		}
		var err error
		if t.d.DB != nil {
			err = t.d.openPGLedger(ctx, false)
		} else {
			err = t.d.openFileLedger(ctx)
		}
		if err != nil {
			return nil, err
		}
		t.d.Ledger = t.d.newLedger()
		t.ledgered = true
	}
	return t.d.Ledger, nil
}

// MirrorHeld reports that Ledger found the ledger's mirror held by a
// running service and records in PostgreSQL only (see Tool).
func (t *Tool) MirrorHeld() bool { return t.d.mirrorHeld }

// ReadLedger is the disposal ledger for reading (restores, drills, breach
// scoping): on PostgreSQL every stream, verified with TrustedKeys, claiming
// none; on the embedded stores the file ledger as Ledger opens it (one
// stream, under its lock).
func (t *Tool) ReadLedger(ctx context.Context) (*disposal.Ledger, error) {
	if t.d.DB == nil {
		return t.Ledger(ctx)
	}
	keys, err := t.TrustedKeys()
	if err != nil {
		return nil, err
	}
	ro, err := pgledger.OpenReadOnly(t.d.ledgerPool, keys)
	if err != nil {
		return nil, err
	}
	return disposal.NewLedger(ro), nil
}

// Holds is the legal-hold registry, recording to Audit.
func (t *Tool) Holds(ctx context.Context) (*retention.Registry, error) {
	if t.holding {
		return t.d.Holds, nil
	}
	if _, err := t.Audit(ctx); err != nil {
		return nil, err
	}
	if t.d.DB == nil {
		if err := t.d.openFileHolds(); err != nil {
			return nil, err
		}
	}
	if err := t.d.openHolds(); err != nil {
		return nil, err
	}
	t.holding = true
	return t.d.Holds, nil
}

// Shredder crypto-shreds subjects: the key store destroys the keys, the
// Ledger records each disposal first, Holds refuse held subjects, Audit
// records the outcome.
func (t *Tool) Shredder(ctx context.Context) (*disposal.Shredder, error) {
	if t.shredder != nil {
		return t.shredder, nil
	}
	keys, err := t.Keys()
	if err != nil {
		return nil, err
	}
	ledger, err := t.Ledger(ctx)
	if err != nil {
		return nil, err
	}
	holds, err := t.Holds(ctx)
	if err != nil {
		return nil, err
	}
	if t.shredder, err = disposal.New(disposal.Config{Vault: keys, Keys: keys, Ledger: ledger, Audit: t.d.Audit,
		Holds: holds, SigningKey: t.d.signKey, Clock: t.d.Clock}); err != nil {
		return nil, err
	}
	t.d.Shredder = t.shredder
	return t.shredder, nil
}

// SweepState is the retention sweep state called name (see
// Deployment.RetentionSweeper).
func (t *Tool) SweepState(name string) (retention.SweepState, error) { return t.d.sweepState(name) }

// Auth is the auth service over the user and session stores, the
// login-attempt counts and the emergency log, recording to Audit, for
// administering users (unlock, disable, reset a second factor). It has no
// sealer: a Tool never reads or seals TOTP secrets, so it needs no KEK.
func (t *Tool) Auth(ctx context.Context) (*auth.Service, error) {
	if t.authSvc != nil {
		return t.authSvc, nil
	}
	w, err := t.Audit(ctx)
	if err != nil {
		return nil, err
	}
	if !t.authOpen {
		if err := t.d.openFileAuth(); err != nil {
			return nil, err
		}
		t.authOpen = true
	}
	ac := t.d.cfg.Auth
	svc, err := auth.New(auth.Config{Users: t.d.Users, Sessions: t.d.Sessions, Attempts: t.d.attempts,
		Emergencies: t.d.Emergencies, Audit: w, Tenants: ac.Tenants, RBAC: ac.RBAC, Passwords: ac.Passwords, Argon2: ac.Argon2,
		Lockout: ac.Lockout, AdminRoles: ac.AdminRoles, PHIRoles: ac.PHIRoles, Clock: t.d.Clock, Logger: t.d.Logger})
	if err != nil {
		return nil, err
	}
	t.authSvc = svc
	return svc, nil
}

// Incidents is the breach incident store (the file store under DirBreach,
// under its lock, or breach/pgbreach).
func (t *Tool) Incidents() (breach.Store, error) {
	if !t.incidentsOpen {
		if err := t.d.openFileIncidents(); err != nil {
			return nil, err
		}
		t.incidentsOpen = true
	}
	return t.d.Incidents, nil
}
