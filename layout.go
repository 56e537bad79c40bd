package hipaakit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/phi/localkek"
)

// Layout of a data directory: the names, relative to DataDir, of what the
// embedded stores keep there. The compliance report and the CLI read the
// same names.
const (
	DirKeys     = "keys"     // phi/filestore key store
	DirAudit    = "audit"    // audit file log
	DirUsers    = "users"    // auth file user store
	DirSessions = "sessions" // auth file session store
	DirAttempts = "attempts" // auth file login-attempt store
	DirLedger   = "ledger"   // disposal file ledger
	// DirLedgerMirror is, with DatabaseURL, the file mirror of the
	// PostgreSQL disposal ledger: outside the database, so that restoring
	// the database to an earlier point never brings a shredded subject back
	// (disposal.NewMirroredLedger).
	DirLedgerMirror = "ledger-mirror"
	DirHolds        = "holds"         // retention file hold store
	DirSweep        = "sweep"         // retention file sweep state (cursor, lock)
	DirBreach       = "breach"        // breach incident file store
	DirScratch      = "scratch"       // restore drills (emptied after each)
	FileEmergency   = "emergency.log" // auth file emergency (break-glass) log
	FileLock        = "LOCK"          // held by the process using the directory
	// FileInstanceID holds the random suffix of the default instance ID
	// (host name, "-", suffix), drawn on the first successful start.
	FileInstanceID = "instance-id"
	// FileSigningKey is the ed25519 key (PEM) that signs audit checkpoints,
	// ledger checkpoints and disposal certificates.
	FileSigningKey = "signing-key.pem"
	// FileChallengeKey is, on the embedded stores, the login-challenge key
	// shared by the auth service's challenges, wrapped by the KEK (JSON,
	// mode 0600; on PostgreSQL it is the row of hipaakit_challenge_keys).
	FileChallengeKey = "challenge-key.json"
	// FileLegacyKEK is the master key file of deployments created before
	// the key moved out of the data directory (localkek.FileName). It is
	// still opened, with a warning.
	FileLegacyKEK = localkek.FileName
	// DirLegacyBackups is the backup directory of deployments created
	// before backups moved out of the data directory; it is no longer
	// written.
	DirLegacyBackups = "backups"
)

// Defaults beside the data directory: DataDir plus these suffixes, so that
// "/var/lib/clinic" has its key in "/var/lib/clinic.master-key" and its
// backups in "/var/lib/clinic.backups".
const (
	DefaultKeyFileSuffix   = ".master-key"
	DefaultBackupDirSuffix = ".backups"
)

// KeyKind says what holds a deployment's key-encryption key.
type KeyKind string

const (
	KeyInKMS   KeyKind = "kms"   // AWS KMS (KEKConfig.KMSKeyID)
	KeyByValue KeyKind = "value" // given in KEKConfig.Key
	KeyInFile  KeyKind = "file"  // a local key file
)

// KeyPlace says where a deployment's key-encryption key is.
type KeyPlace struct {
	Kind KeyKind
	// File is the key file (KeyInFile).
	File string
	// InsideDataDir is true when File is inside the data directory: a copy
	// of the directory then decrypts every record (a gap under 45 CFR
	// 164.312(a)(2)(iv)).
	InsideDataDir bool
}

// KeyLocation returns where cfg's key-encryption key is, reading only
// whether the legacy key file exists: KEK.KMSKeyID, then KEK.Key, then
// KEK.KeyFile, then DataDir/kek.key when it exists, else the default file
// beside the data directory.
func KeyLocation(cfg Config) KeyPlace {
	switch {
	case cfg.KEK.KMSKeyID != "":
		return KeyPlace{Kind: KeyInKMS}
	case cfg.KEK.Key != "":
		return KeyPlace{Kind: KeyByValue}
	case cfg.KEK.KeyFile != "":
		return KeyPlace{Kind: KeyInFile, File: cfg.KEK.KeyFile, InsideDataDir: within(cfg.DataDir, cfg.KEK.KeyFile)}
	}
	legacy := filepath.Join(cfg.DataDir, FileLegacyKEK)
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		return KeyPlace{Kind: KeyInFile, File: legacy, InsideDataDir: true}
	}
	return KeyPlace{Kind: KeyInFile, File: DefaultKeyFile(cfg.DataDir)}
}

// DefaultKeyFile is the default local master key file of dataDir.
func DefaultKeyFile(dataDir string) string { return filepath.Clean(dataDir) + DefaultKeyFileSuffix }

// DefaultBackupDir is the default backup directory of dataDir.
func DefaultBackupDir(dataDir string) string { return filepath.Clean(dataDir) + DefaultBackupDirSuffix }
