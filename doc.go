// Package hipaakit assembles a whole deployment of the SDK from one Config:
//
//	d, err := hipaakit.Open(ctx, hipaakit.Config{DataDir: "/var/lib/clinic"})
//	if err != nil { ... }
//	defer d.Close()
//
// Open builds, in the one order that is safe, everything a service that
// keeps PHI needs: the key-encryption key (a local master key, or AWS KMS),
// the key store and the phi Vault, one audit trail (audit.Trail), the
// authentication service (users, sessions, lockout, tenant policies, the
// RBAC guard), the disposal ledger and shredder, the legal-hold registry,
// the backup repository with its sources and restore drills, and the
// housekeeping that keeps the session and login-attempt stores bounded.
// Protect and SecurityHeaders are the HTTP middleware in front of it.
//
// # Stores
//
// With only DataDir set, every store is a file-backed one under that
// directory (the embedded default: nothing to install; see Layout). With
// DatabaseURL set, every store is in PostgreSQL and Open runs each package's
// migrations; the data directory then keeps only the signing key, the
// lock, the restore drills' scratch space and the service configuration.
//
// # Keys apart from data
//
// The local master key never lives in the data directory by default: it is
// the file DataDir+".master-key" beside it (mode 0600), created at the first
// start and announced once through Config.Logger (its location, never the
// key). A copy or backup of the data directory therefore decrypts nothing.
// A deployment created before this rule, whose key is the data directory's
// kek.key, keeps opening with a logged warning; KeyLocation and
// Deployment.KeyInsideDataDir report it so that the compliance report can
// mark it as a gap under 45 CFR 164.312(a)(2)(iv). Backups default to the
// directory DataDir+".backups", also outside the data directory, and a
// backup directory inside it is refused.
//
// # Replicas
//
// On PostgreSQL any number of processes (replicas) serve one deployment:
// the same DatabaseURL, the same KEK, the same signing key (or each its
// own, listed in every other's Signing.Trusted), one shared backup target,
// and a data directory and an InstanceID each. A replica writes only its
// own streams, AuditStream-InstanceID and disposal-InstanceID
// (Deployment.AuditStream, Deployment.LedgerStream), which it holds under
// a lease (table hipaakit_stream_leases) renewed every LeaseTTL/3: a start
// that finds one of them leased by a live process fails with
// *StreamHeldError (ErrStreamHeld) instead of taking it, and a lease that
// expired (its holder crashed) is taken over. Deployment.Ready and
// ReadyHandler (mount it at /readyz) fail once a lease was lost or could
// not be renewed in time, so a load balancer stops routing to the process.
//
// The login challenges of the auth service (the second factor after the
// password step, the passkey ceremonies) are signed with one key per
// deployment, so that any replica finishes a login another began: the
// first start draws 32 random bytes, wraps them with the KEK and stores
// them in the table hipaakit_challenge_keys (INSERT ... ON CONFLICT DO
// NOTHING, then read back: replicas starting together use the row that
// won), or on the embedded stores in DataDir/FileChallengeKey. Every start
// unwraps the stored key among its start-up checks; a KEK that cannot open
// it refuses the start with a *ChallengeKeyError (ErrChallengeKey) naming
// the table or file. Config.Auth.ChallengeKey overrides it (at least 32
// bytes, the same on every replica). The plaintext key is only in memory;
// `hipaakit kek migrate` re-wraps the stored one (RewrapChallengeKey). It
// is in no backup: a challenge lives for minutes, and a deployment
// restored without it draws a new key, which only ends the logins in
// flight.
//
// # Whole-deployment backups
//
// Deployment.BackupSet backs up the deployment as one backup set whose
// members name what they cover (DeploymentParts: keys, audit trail, users,
// legal holds, disposal ledger, emergency log, breach incidents, trusted
// public keys; and the records: AppDirs, or the main schema). Sessions and
// login-attempt counts
// are not backed up (a restored deployment signs everyone in again); the
// private signing key is not either (keep it, or list its public key in
// Signing.Trusted of the restored deployment), nor the login-challenge key
// (a restored deployment without it draws a new one; see Replicas). "Consistent" means:
//
//   - On PostgreSQL every table of the main schema and of the ledger's
//     schema is read in one snapshot (pgsource.Snapshot, exported once and
//     imported by each member): no commit is in one member and missing
//     from the other. The key store is read after that moment, so every
//     record of the set has its keyset unless its subject was shredded
//     after it — and then the ledger's mirror outside the database, which
//     start-up replays, keeps it shredded.
//   - On the embedded stores the members are read one after another in an
//     order under which a restore is safe: the records before the keys
//     that open them, the keys before the disposal ledger (every shred
//     that removed a keyset from the key store member is in the ledger
//     member), the audit trail last (it records what the other members
//     show). Users, holds and the emergency log may be of a later moment
//     than the records.
//
// On PostgreSQL the disposal ledger is mirrored outside the database: into
// the data directory (DirLedgerMirror) and, when backups go to S3, into the
// backup bucket (backup.LedgerMirror, shared by every replica, under the
// bucket's default object-lock retention when it has one). Start-up
// replays both, so neither a restore of the database to an earlier point
// nor the loss of a data directory brings a shredded subject back.
//
// Deployment.DrillSet restores every member into scratch space and
// compares it with its manifest, and records one audit event for the set
// naming the parts it restored: the compliance report marks disaster
// recovery met only when the last whole-deployment drill restored every
// part of DeploymentParts.
//
// # Starts that write nothing until they can run
//
// Open runs every check before it writes anything of the deployment: the
// data-directory lock, the master key against a stored keyset and the
// backup repository (ErrWrongKEK), the stored login-challenge key
// (ErrChallengeKey), the migrations, a missing signing key on
// a deployment that already holds signed records (ErrSigningKeyMissing),
// the disposal ledger against the trusted signing keys
// (ErrLedgerUntrusted), the stream leases (ErrStreamHeld). Only then are a
// new signing key, the instance ID, a new login-challenge key, the stream
// claims, checkpoints, ledger entries and a new backup repository written,
// so a refused start leaves the deployment as it found it.
//
// # Reading a deployment beside the service
//
// Inspect opens an existing deployment read-only, for tools that run
// beside the live service (the compliance report, the CLI's checks): it
// takes no data-directory lock, creates no key, directory or schema,
// claims no stream lease and writes nothing (on PostgreSQL every session is
// read-only). A deployment that does not exist is refused with a
// *MissingError (ErrMissing) naming what is missing.
//
// # Administrative processes
//
// OpenTool opens a deployment for a short-lived administrative process
// that changes it (the CLI's shred, hold, user, retention, breach, backup
// and kek commands): a Tool opens each store on first use, in the same
// layout as Open, under a per-run instance ID ("cli-" and a random suffix)
// whose PostgreSQL streams no other process shares, and claims a stream
// only when it records. It runs no housekeeping, takes no stream lease,
// writes no service description or instance-ID file, replays nothing and
// never creates a master key. On the embedded stores it takes no
// data-directory lock but each store's own, so beside a running service
// everything that records an audit event fails with durable.ErrLocked and
// changes nothing; reads go through Inspect. On PostgreSQL a Tool given
// the data directory writes its disposals to the ledger's mirror there
// unless a service holds it (Tool.MirrorHeld), in which case the service's
// housekeeping (Sweep) copies them in; see Tool.
//
// # Service description
//
// With Config.Service naming the service, every successful Open writes
// this process's service description (package serviceconfig): the file
// DataDir/hipaakit.json and, on PostgreSQL, its own row of
// hipaakit_service_descriptions, keyed by instance ID, so replicas never
// overwrite each other. The compliance report reads every replica's and
// states the weakest policy in force.
//
// # Guarantees
//
//   - Config's zero value for every field is the secure default: MFA
//     required, durable stores, the key outside the data directory.
//   - Open refuses unsafe combinations (Validate) with an error that says
//     what to do: errors.Is(err, ErrUnsafeConfig) holds and errors.As gives
//     a *ConfigError naming the field.
//   - A wrong master key stops Open with ErrWrongKEK, before any request.
//   - Errors and logs never hold the master key, the database password or
//     an absolute path.
//   - One process per data directory: a second Open fails with
//     ErrDataDirLocked.
//
// Only the main package of a program reads the environment: ConfigFromEnv
// takes the getenv function, and EnvMasterKey / EnvMasterKeyFile are the
// names every hipaakit program uses for the master key.
package hipaakit
