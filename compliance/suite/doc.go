// Package suite holds the checks of hipaakit's compliance suite, written
// once against T, and runs them two ways without linking package testing:
//
//   - in-process against a service's http.Handler (RunHandler), which is
//     what compliance.Run does with a *testing.T in the service's own tests;
//   - over HTTPS against a live deployment (Check, and "hipaakit check
//     https://HOST"), described by a check file (ParseCheckFile: test users
//     with their passwords and TOTP secrets, routes, declared session
//     limits).
//
// Both name their results by the HIPAA Security Rule control they give
// evidence for (Controls).
//
// # What Check guarantees
//
// It contacts only the host of CheckConfig.URL (the dialer refuses any
// other address), follows no redirect, bounds its requests and connections
// (CheckConfig.MaxRequests), sends no request that changes state unless
// the check file marks the route "send" (state-changing routes are probed
// only without a session and as roles that must be refused), and logs out
// every session it opened. It adds what only the network shows: TLS
// versions and cipher suites, HSTS, the session cookie's flags. Controls
// that need the audit trail or the logs are reported NotChecked with where
// their evidence comes from, never passed. Idle and absolute logoff are
// waited out in real time, so they are checked against a deployment with
// short limits (max_wait bounds the wait) or excluded in the file with a
// justification.
//
// # Secrets
//
// A CheckFile redacts itself under every fmt verb, slog and JSON; file
// errors (*CheckFileError) name the member at fault, never its value; no
// failure message quotes a password, TOTP secret or session token.
package suite
