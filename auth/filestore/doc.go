// Package filestore keeps the stores of package auth in files: the
// embedded default of a single-process deployment. OpenUserStore,
// OpenSessionStore and OpenAttemptStore each own a directory,
// OpenEmergencyLog an append-only file; each takes an exclusive lock file
// so that a second process cannot open the same store, writes every change
// atomically and fsynced (package durable) before it returns, and keeps an
// in-memory index so that reads never touch the disk. Every store passes
// the conformance suites of auth/authtest, like auth/memstore and
// auth/pgauth.
//
// A store that finds a file it cannot decode refuses to open with an error
// matching ErrCorrupt rather than silently drop a user, a session or a
// break-glass record; errors never quote file contents or absolute paths.
//
// # Formats
//
// A UserStore keeps one file per user, "<user ID>.json", mode 0600, in
// its directory beside a ".lock" file. A user file (version 1) is one JSON
// object and a newline with the members v (1), id, tenant_id, name, status,
// roles, admin, password_hash, password_changed_at, mfa {totp_secret
// (sealed, base64), totp_active, totp_digits, totp_period, totp_algorithm,
// totp_last_step, totp_enrolled_at, recovery_codes}, lockout {failures,
// last_failure, locked_at}, role_request {roles, requested_by,
// requested_at} (only while a request is pending), passkeys (only when
// the user has some: an array of {id, name, public_key (COSE; base64),
// sign_count, aaguid, user_verified, backup_eligible, backup_state,
// transports, attestation_format, created_at, last_used_at}; files
// without it still open), created_at, updated_at
// and version; times are
// RFC 3339 in UTC, zero times are "0001-01-01T00:00:00Z" and unknown members
// are refused (testdata/user_v1.json).
//
// A SessionStore keeps one file per session, described on SessionStore
// (testdata/session_v1.json).
//
// An AttemptStore keeps one file per throttle key, "<SHA-256 hex>.json",
// mode 0600: one JSON object {"v":1,"count":n,"last":RFC 3339 UTC} and a
// newline; a damaged file counts as zero.
//
// The emergency log is one JSON line per change of a record, described on
// EmergencyLog (testdata/emergency_v1.jsonl).
package filestore

import "errors"

// ErrCorrupt reports a store file that cannot be decoded (the message says
// which kind: user file, session file or emergency log).
var ErrCorrupt = errors.New("filestore: corrupt file")
