// Package compliance is the suite a service built with hipaakit runs in its own
// CI: each check exercises the service's real http.Handler as a client would
// and is named by the HIPAA Security Rule control it gives evidence for, so a
// failing build reads like
//
//	164.312(b) audit controls: GET /patients/{id} produced no audit event
//
// # What it checks
//
// Run covers access control (401 without a session, 403 for roles without the
// permission, undeclared routes denied, no role escalation through headers,
// claims or query parameters), automatic logoff (idle and absolute expiry),
// session invalidation (logout, password change), person authentication (TOTP
// replay, lockout), the second factor (when Service.RequireMFA says the tenant
// requires MFA, a session from Service.PasswordLogin, password only, is
// refused with 403 on every declared route; a target without that
// requirement excludes the control with its justification), the
// phishing-resistant factor (ControlPasskey, for a Service with
// PasskeyRoles: a session of such a role from Service.NonPasskeyLogin, every
// factor but a passkey, is refused with 403 on every route the role may
// use), audit controls (an event per PHI access with actor,
// record, element, action, time and outcome; denials audited; the chain
// verifies), emergency access (a reason is required and the access is
// flagged), and transmission and leak hygiene (no-store on PHI responses,
// security headers, canary PHI absent from logs, error bodies and URLs).
//
// Run also checks CSRF refusal (a state-changing request from another site
// with the session cookie but without the session's headers), no-store and
// the security headers on every declared route, and that canary PHI sent
// in refused requests never comes back in their bodies or headers.
//
// # Against a live deployment
//
// The checks live in package compliance/suite, which does not link
// testing: suite.Check (and "hipaakit check https://HOST") runs the same
// checks over HTTPS against a deployed service described by a check file,
// adds TLS, HSTS and cookie flags, and reports the controls that need the
// audit trail as not checked. Run and Check name their results alike.
//
// # What it leaves to the caller
//
// The suite knows nothing of the service's internals: the Service describes the
// routes, how to log in per role, the clock, and where the audit trail and the
// logs are. A check whose hook the Service does not provide fails with a message
// that names the missing hook, unless the Service lists the control in Exclude
// with a justification, which is printed: the suite never passes a control
// silently.
//
// It does not judge organisational safeguards (risk analysis, training,
// business-associate agreements); the report command lists those as outside
// what software can show.
//
// # Related packages
//
// This package links package testing and belongs in a service's tests. The
// control-mapping report of a deployed service is package
// compliance/report, and the service configuration format it reads
// (hipaakit.json) is package serviceconfig; neither links
// testing, so a production binary may embed them.
package compliance
