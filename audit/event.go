package audit

import (
	"context"
	"time"
)

// Action names what happened. The constants below are the actions hipaakit
// itself records; applications may record their own (lower-case, dotted or
// underscored words; see ValidAction).
type Action string

// Actions recorded by hipaakit.
const (
	ActionCreate Action = "create"
	ActionRead   Action = "read"
	// ActionQuery is a search or lookup (for example by a blind index)
	// that reads no data element but may tell whether a record exists.
	ActionQuery            Action = "query"
	ActionUpdate           Action = "update"
	ActionDelete           Action = "delete"
	ActionExport           Action = "export"
	ActionLogin            Action = "login"
	ActionLoginFailed      Action = "login_failed"
	ActionLogout           Action = "logout"
	ActionSessionTimeout   Action = "session_timeout"
	ActionMFAEnrolled      Action = "mfa_enrolled"
	ActionMFAFailed        Action = "mfa_failed"
	ActionPasswordChanged  Action = "password_changed"
	ActionPermissionDenied Action = "permission_denied"
	// ActionPermissionGranted records a granted access decision (the auth
	// guard writes it with auth.Config.AuditGrants).
	ActionPermissionGranted Action = "permission_granted"
	ActionRoleChanged       Action = "role_changed"
	ActionUserChanged       Action = "user_changed"
	ActionLockout           Action = "lockout"
	ActionEmergencyAccess   Action = "emergency_access"
	ActionReveal            Action = "reveal"
	ActionKeyRotated        Action = "key_rotated"
	ActionShred             Action = "shred"
	ActionLegalHold         Action = "legal_hold"
	ActionRetentionPurge    Action = "retention_purge"
	ActionBackup            Action = "backup"
	ActionRestore           Action = "restore"
	ActionRestoreDrill      Action = "restore_drill"
	// ActionDisclose is a disclosure of a patient's PHI to a recipient
	// outside the covered entity (Event.Recipient names it); see
	// RecordDisclosure and AccountingOfDisclosures.
	ActionDisclose Action = "disclose"
)

// Channel is how the actor reached the system.
type Channel string

// Channels.
const (
	ChannelWeb    Channel = "web"
	ChannelAPI    Channel = "api"
	ChannelMobile Channel = "mobile"
	ChannelSMS    Channel = "sms"
	ChannelSystem Channel = "system" // scheduled jobs, sweepers, CLI maintenance
)

// Outcome says whether the action succeeded.
type Outcome string

// Outcomes.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
)

// Actor is who acted. UserID is the unique, immutable user identifier
// (164.312(a)(2)(i)); never a display name or e-mail address.
type Actor struct {
	UserID    string `json:"user_id,omitempty"`
	TenantID  string `json:"tenant_id,omitempty"`
	Role      string `json:"role,omitempty"`
	SessionID string `json:"session_id,omitempty"` // an opaque session reference, never the session token
	// Emergency is true for every action taken under break-glass access
	// (164.312(a)(2)(ii)); EmergencyReason is the reason the user gave.
	Emergency       bool   `json:"emergency,omitempty"`
	EmergencyReason string `json:"emergency_reason,omitempty"`
}

// Origin is how the request arrived.
type Origin struct {
	Channel Channel `json:"channel,omitempty"`
	// ClientIP comes from an extractor the integrator configures; hipaakit
	// never trusts forwarding headers by default.
	ClientIP  string `json:"client_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Route is the matched route pattern (for example "GET /patients/{id}"),
	// never the raw path or query string, which may carry PHI.
	Route string `json:"route,omitempty"`
}

// Target is the record and data element acted on.
type Target struct {
	RecordType string `json:"record_type,omitempty"` // e.g. "patient", "lab_result"
	RecordID   string `json:"record_id,omitempty"`   // an opaque identifier, not PHI
	Field      string `json:"field,omitempty"`       // the data element, e.g. "dob"
	// Subject is the opaque identifier of the patient whose PHI is touched;
	// it drives per-patient reports and the accounting of disclosures.
	Subject string `json:"subject,omitempty"`
}

// RecipientKind says whether a recipient is a person or an organisation.
type RecipientKind string

// Recipient kinds.
const (
	RecipientPerson       RecipientKind = "person"
	RecipientOrganization RecipientKind = "organization"
)

// Recipient is who received PHI in a disclosure: the name of the person or
// organisation and, if known, their address (45 CFR 164.528(b)(2)(ii)).
// These identify the recipient, never the patient, and must not hold the
// patient's PHI. The zero Recipient (no recipient) is omitted from the
// canonical encoding, so records without one keep their bytes and hashes.
type Recipient struct {
	// ID is an optional opaque identifier of the recipient in the
	// integrator's directory (e.g. "org-4711").
	ID      string        `json:"id,omitempty"`
	Kind    RecipientKind `json:"kind,omitempty"`
	Name    string        `json:"name,omitempty"`
	Address string        `json:"address,omitempty"`
}

// IsZero reports whether r names no recipient.
func (r Recipient) IsZero() bool { return r == Recipient{} }

// Change carries the new and prior value of a data element as opaque sealed
// bytes produced by the caller (for example with phi), never plaintext. The
// audit chain hashes these bytes, so crypto-shredding the subject makes them
// unreadable without breaking verification.
type Change struct {
	New   []byte `json:"new,omitempty"`
	Prior []byte `json:"prior,omitempty"`
}

// Event is one audited action: who (Actor) did what (Action) to which record
// and data element (Target), how (Origin), when (Time), with which change and
// outcome. It holds identifiers and sealed bytes only; no field may hold
// plaintext PHI.
type Event struct {
	// Time is the server's UTC time of the action. Writers set it from their
	// clock when it is zero.
	Time    time.Time `json:"time"`
	Action  Action    `json:"action"`
	Outcome Outcome   `json:"outcome"`
	// Reason is a short machine-readable code for a failure or a decision,
	// e.g. "invalid_credentials", "no_permission", "retention_expired".
	Reason  string  `json:"reason,omitempty"`
	Actor   Actor   `json:"actor"`
	Origin  Origin  `json:"origin"`
	Target  Target  `json:"target"`
	Change  *Change `json:"change,omitempty"`
	Purpose string  `json:"purpose,omitempty"` // why PHI was accessed or disclosed, e.g. "treatment"
	// Recipient is who received the PHI, for a disclosure (ActionDisclose).
	Recipient Recipient `json:"recipient,omitzero"`
	// Attrs holds further non-PHI detail as sorted key/value pairs.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Writer records events. Implementations are safe for concurrent use.
//
// Write returns nil only after e is durably stored (it survives a crash of
// the process and of the machine, as far as the storage allows). When e cannot
// be stored, Write returns an error, and the caller must refuse the access it
// was auditing: no audit, no access.
type Writer interface {
	Write(ctx context.Context, e Event) error
}

// WriterFunc adapts a function to a Writer.
type WriterFunc func(ctx context.Context, e Event) error

// Write calls f.
func (f WriterFunc) Write(ctx context.Context, e Event) error { return f(ctx, e) }

// Discard is a Writer that accepts and drops every event. It exists for tests
// and examples that do not examine the trail; never use it where PHI is touched.
type Discard struct{}

// Write drops e.
func (Discard) Write(context.Context, Event) error { return nil }
