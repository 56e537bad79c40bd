package hipaakit

import (
	"errors"
	"fmt"
)

var (
	// ErrUnsafeConfig marks a Config that Open refuses. The *ConfigError
	// that carries it names the field and says what to do.
	ErrUnsafeConfig = errors.New("hipaakit: unsafe configuration")
	// ErrDataDirLocked reports a data directory in use by another process.
	ErrDataDirLocked = errors.New("hipaakit: the data directory is in use by another process")
	// ErrWrongKEK reports a key-encryption key that did not wrap the stored
	// keys (or a missing master key file beside existing keys).
	ErrWrongKEK = errors.New("hipaakit: wrong key-encryption key")
	// ErrBadDatabaseURL reports a DatabaseURL that does not parse; the
	// message never quotes it (it may hold a password).
	ErrBadDatabaseURL = errors.New("hipaakit: DatabaseURL is not a valid PostgreSQL URL")
	// ErrDatabaseUnreachable reports a failed connection to PostgreSQL; the
	// message names the server, never the password.
	ErrDatabaseUnreachable = errors.New("hipaakit: cannot reach PostgreSQL")
	// ErrNoSchema reports a search_path that names no existing schema.
	ErrNoSchema = errors.New("hipaakit: PostgreSQL: the search_path names no existing schema")
	// ErrKMSOverLocalKeys reports AWS KMS configured over a key store
	// whose keysets a local master key wrapped. The keysets must be
	// re-wrapped first: hipaakit kek migrate.
	ErrKMSOverLocalKeys = errors.New("hipaakit: AWS KMS is configured but the stored keys are wrapped by a local master key")
	// ErrProtectTwice reports a second Deployment.Protect call.
	ErrProtectTwice = errors.New("hipaakit: Protect was already called on this deployment")
	// ErrNoWitnesses reports a witness operation on a deployment whose
	// Config.Witnesses has no endpoints.
	ErrNoWitnesses = errors.New("hipaakit: no witnesses are configured (Config.Witnesses)")
	// ErrNoAuditArchive reports an archive operation on a deployment whose
	// Config.AuditArchive names no target.
	ErrNoAuditArchive = errors.New("hipaakit: no audit archive is configured (Config.AuditArchive)")
)

// ConfigError is a refused Config: Field names the setting at fault and
// Fix says what to do. errors.Is(err, ErrUnsafeConfig) holds, and so does
// errors.Is with Cause when it is set.
type ConfigError struct {
	Field   string // for example "Backup.Dir"
	Problem string
	Fix     string
	Cause   error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("hipaakit: %s: %s; %s", e.Field, e.Problem, e.Fix)
}

// Is makes errors.Is(err, ErrUnsafeConfig) hold.
func (e *ConfigError) Is(target error) bool { return target == ErrUnsafeConfig }

// Unwrap returns the cause (for example auth.ErrMFAWithoutSealer).
func (e *ConfigError) Unwrap() error { return e.Cause }
