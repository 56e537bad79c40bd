package report

import "time"

// Evidence is what the report knows of a deployed service: the policy in
// force and what its stores show. Every section is optional; a control whose
// evidence is missing is reported as "no evidence", never as met.
type Evidence struct {
	Service     string    `json:"service"`
	GeneratedAt time.Time `json:"generated_at"`

	Identity   *IdentityEvidence   `json:"identity,omitempty"`
	Sessions   *SessionEvidence    `json:"sessions,omitempty"`
	Encryption *EncryptionEvidence `json:"encryption,omitempty"`
	Transport  *TransportEvidence  `json:"transport,omitempty"`
	Audit      *AuditEvidence      `json:"audit,omitempty"`
	Backup     *BackupEvidence     `json:"backup,omitempty"`
	Disposal   *DisposalEvidence   `json:"disposal,omitempty"`
	Retention  *RetentionEvidence  `json:"retention,omitempty"`
	Incidents  *IncidentEvidence   `json:"incidents,omitempty"`

	// Notes say which facts could not be read and why (Collect); a field
	// left empty for a reason given here was not guessed.
	Notes []string `json:"notes,omitempty"`
}

// IdentityEvidence covers unique user identification, authentication and
// emergency access.
type IdentityEvidence struct {
	Users             int  `json:"users"`
	UniqueIDs         bool `json:"unique_ids"` // the user store enforces unique, immutable IDs
	RequireMFA        bool `json:"require_mfa"`
	UsersWithoutMFA   int  `json:"users_without_mfa"`
	PasswordMinChars  int  `json:"password_min_chars"`
	PasswordBlocklist int  `json:"password_blocklist_entries"`
	LockoutThreshold  int  `json:"lockout_threshold"`
	// EmergencyRoles lists the roles users may elevate to under break-glass;
	// EmergencySessions counts emergency sessions on record.
	EmergencyRoles    []string `json:"emergency_roles,omitempty"`
	EmergencySessions int      `json:"emergency_sessions"`
}

// SessionEvidence covers automatic logoff.
type SessionEvidence struct {
	IdleTimeout      time.Duration `json:"idle_timeout"`
	AbsoluteLifetime time.Duration `json:"absolute_lifetime"`
}

// EncryptionEvidence covers encryption at rest.
type EncryptionEvidence struct {
	KEK      string `json:"kek"`       // "local" or "aws-kms:<key id>"
	KeyStore string `json:"key_store"` // "file", "postgresql"
	Subjects int    `json:"subjects"`  // subjects with a data key
	Shredded int    `json:"shredded"`
	// KeyInDataDir is set when a local master key file is kept inside the
	// data directory (the configured kek_file, or the legacy
	// <data_dir>/kek.key): a copy of the directory then decrypts every
	// record.
	KeyInDataDir bool `json:"key_in_data_dir,omitempty"`
	// KeyBesideDataDir is set when an embedded deployment's local master
	// key file sits beside its data directory (in the same parent
	// directory, the default place): one copy of that directory, volume or
	// host backup then holds both the data and the key.
	KeyBesideDataDir bool `json:"key_beside_data_dir,omitempty"`
}

// TransportEvidence covers transmission security.
type TransportEvidence struct {
	TLS          bool   `json:"tls"`
	MinVersion   string `json:"min_version,omitempty"`
	HSTS         bool   `json:"hsts"`
	LoopbackOnly bool   `json:"loopback_only"` // plain HTTP, but bound to loopback only
}

// AuditEvidence covers audit controls and integrity.
type AuditEvidence struct {
	Verified    bool          `json:"verified"`
	VerifyError string        `json:"verify_error,omitempty"`
	Events      int64         `json:"events"`
	First       time.Time     `json:"first,omitempty"`
	Last        time.Time     `json:"last,omitempty"`
	Checkpoints int64         `json:"checkpoints"`
	Retention   time.Duration `json:"retention"`
	// Streams says, per audit stream, how far the signed checkpoints
	// cover it: events after a stream's last checkpoint could be
	// truncated unnoticed until the next one.
	Streams []StreamCoverage `json:"streams,omitempty"`
}

// StreamCoverage is one audit stream's checkpoint coverage.
type StreamCoverage struct {
	Stream         string    `json:"stream"`
	Records        int64     `json:"records"`
	LastCheckpoint time.Time `json:"last_checkpoint,omitempty"` // zero: none
	// AfterCheckpoint counts the records after the last checkpoint.
	AfterCheckpoint int64 `json:"after_checkpoint"`
}

// BackupEvidence covers the backup plan, disaster recovery and its testing.
type BackupEvidence struct {
	Backups        int           `json:"backups"`
	Target         string        `json:"target"` // "directory", "s3"
	LastBackup     time.Time     `json:"last_backup,omitempty"`
	LastVerified   time.Time     `json:"last_verified,omitempty"`
	LastDrill      time.Time     `json:"last_drill,omitempty"`
	LastDrillPass  bool          `json:"last_drill_passed"`
	LastDrillRTO   time.Duration `json:"last_drill_rto"`
	LedgerReplayed bool          `json:"ledger_replayed_on_restore"`
	// LastSetDrill is the newest drill of a whole backup set (a set
	// drill's audit event, scope "set"), LastSetDrillPass its outcome and
	// SetDrillCovers the parts it restored (backup.SetMember.Covers, from
	// the members that passed). Disaster recovery is met only when these
	// include every part of hipaakit.DeploymentParts.
	LastSetDrill     time.Time `json:"last_set_drill,omitempty"`
	LastSetDrillPass bool      `json:"last_set_drill_passed"`
	SetDrillCovers   []string  `json:"set_drill_covers,omitempty"`
	// Damaged names each backup whose manifest does not authenticate or
	// decode ("manifests/<id>: <error>"): it cannot be restored, is not
	// counted in Backups, and makes the backup storage row not met.
	Damaged []string `json:"damaged,omitempty"`
}

// DisposalEvidence covers disposal and media re-use.
type DisposalEvidence struct {
	Shreds         int       `json:"shreds"`
	Certificates   int       `json:"certificates"`
	LedgerVerified bool      `json:"ledger_verified"`
	LedgerError    string    `json:"ledger_error,omitempty"`
	LastShred      time.Time `json:"last_shred,omitempty"`
}

// RetentionEvidence covers documentation retention.
type RetentionEvidence struct {
	Policies []RetentionPolicy `json:"policies"`
	Holds    int               `json:"legal_holds"`
}

// RetentionPolicy is one record kind's retention period.
type RetentionPolicy struct {
	Kind   string `json:"kind"`
	Period string `json:"period"` // e.g. "6y"
	Years  int    `json:"years"`
}
