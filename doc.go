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
