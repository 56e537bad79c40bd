// Package auth identifies and authenticates the people who use a hipaakit
// service and controls what they may do: unique user identification
// (45 CFR 164.312(a)(2)(i)), emergency access (a)(2)(ii), automatic logoff
// (a)(2)(iii) and person authentication (d).
//
// Build the whole service with New from one Config: the user, session,
// attempt and emergency stores (auth/filestore for the embedded default,
// pgauth on PostgreSQL, auth/memstore in tests), the audit writer, the RBAC
// policy, the tenant policies and the clock. New wires the parts together
// (the credential checks, the session manager, the RBAC guard and the HTTP
// endpoints) so that all of them read one tenant policy source and one set
// of password policies; it refuses a Config without a durable emergency
// log (ErrNoEmergencyLog).
//
//	svc, err := auth.New(auth.Config{Users: users, Sessions: sessions, Attempts: attempts,
//		Emergencies: emergencies, Audit: trail, RBAC: rbac, Tenants: tenants, Sealer: sealer})
//	svc.Use(auditMiddleware)                          // step 4 of the chain
//	svc.HandleFunc("GET /patients/{id}", "patient:read", getPatient)
//	mux.Handle("/", svc.Handler())                    // session → policy → RBAC → audit → route
//	svc.Mount(mux, "/auth")                           // login, MFA, logout, break-glass ...
//
// A login handler of its own calls Service.Login and, on success,
// Service.Begin.
//
// # The middleware chain
//
// Every protected request passes, in this order:
//
//  1. session: reads the token from the session cookie (or a Bearer header
//     when SessionConfig.AllowBearer is set), loads the server-side
//     session, enforces the idle and absolute timeouts under the tenant
//     policy, checks the user is still active and reads the user's roles
//     from the user store, and applies CSRF protection to
//     cookie-authenticated state-changing requests. No session: 401.
//  2. policy: the tenant's remaining requirements. A session without MFA
//     in a tenant that requires MFA gets 403 "mfa_required"; a user whose
//     password is older than the password policy's MaxAge gets 403
//     "password_expired" (the password change endpoint is outside this
//     step).
//  3. RBAC: deny by default. Only routes registered with a declared
//     permission are reachable, and only by principals whose roles grant
//     it; everything else is 404 or 403. Denials are always audited
//     (permission_denied); grants too with Config.AuditGrants.
//  4. audit: the middleware given to Service.Use (audit.Middleware with
//     Actor: ActorFromRequest) runs inside the authorisation check and
//     sees the actor the session step put in the context. To record
//     denied requests as accesses too, wrap Service.Handler in it instead.
//
// Service.Handler serves the routes of Service.Handle behind this chain;
// Service.Session applies step 1 only, for pages a user reaches before
// meeting the policy (MFA enrolment). Service.Routes lists every route
// Handler serves with its permission and its PHI flag (the PHI route
// option; such responses are never cached), so that a test can check the
// list against what it declares (package compliance does).
//
// # HTTP endpoints
//
// Service.Mount registers the JSON endpoints for sign-in and sessions under
// a prefix. Request bodies are JSON objects of at most 8 KiB with no
// unknown fields and Content-Type application/json; anything else is 400
// "bad_request". Errors are {"error": code} with a code that tells the
// client what to do next and nothing that helps an attacker: every
// credential failure is 401 "invalid_credentials", whatever went wrong.
// Responses are never cached.
//
//	POST /login                 {tenant_id, name, password, totp_code?, recovery_code?}
//	POST /login/second-factor   {challenge, totp_code | recovery_code}
//	GET  /session               the signed-in user, limits and CSRF token
//	POST /session/keepalive     records activity; returns the new deadlines
//	POST /logout
//	POST /reauth                {password, totp_code?}  (for Sensitive routes)
//	POST /password              {current_password, new_password}
//	POST /mfa/totp/enroll       returns the otpauth URI, secret and QR code (PNG, base64)
//	POST /mfa/totp/confirm      {code}; returns the recovery codes, shown once
//	POST /mfa/recovery-codes    {}; new recovery codes, shown once; the old ones stop working (recent authentication)
//	POST /emergency/elevate     {role, reason, duration_seconds?}  (recent authentication)
//	POST /emergency/end
//
// With Config.Passkeys (a relying party ID and its origins) Mount adds the
// WebAuthn endpoints; "options" is the PublicKeyCredential*Options JSON to
// hand to navigator.credentials, "credential" the PublicKeyCredential's
// JSON (toJSON()):
//
//	POST /login/passkey/begin        {challenge?}; {options}: passwordless (discoverable credential), or with
//	                                 the password step's challenge the second factor (the user's passkeys)
//	POST /login/passkey/finish       {credential, challenge?}; answers like /login, the session records the passkey
//	GET  /passkeys                   the user's passkeys {fingerprint, name, created_at, last_used_at, ...}
//	POST /passkeys/register/begin    {}; {options} (recent authentication)
//	POST /passkeys/register/finish   {name, credential} (recent authentication)
//	POST /passkeys/remove            {fingerprint}; ends the user's other sessions (recent authentication)
//
// A refused passkey login is 401 "invalid_credentials"; a refused
// registration 400 {"error":"passkey_refused","reason":...}; removing the
// last passkey of a user whose role requires one 409 "last_passkey".
//
// A successful login answers {"status":"authenticated", ...} with the CSRF
// token and flags telling the client to enrol MFA or change an expired
// password; a password that needs a second factor answers
// {"status":"second_factor_required","challenge":...,"second_factors":["totp","passkey"]}
// listing what the user may present (a passkey where the tenant has
// PasskeySecondFactor: begin and finish /login/passkey with the challenge). Login endpoints are
// protected against cross-site submission by Fetch metadata and Origin
// checks; the others need a session and, for POST, the CSRF token.
//
// Service.AdminHandlers returns the administration endpoints, which the
// application registers with Service.Handle under paths and permissions of
// its choosing (the user is the path wildcard {id}); for example:
//
//	PUT  /admin/users/{id}/roles           {roles}           SetRoles
//	PUT  /admin/users/{id}/status          {status}          SetStatus
//	POST /admin/users/{id}/unlock                            Unlock
//	PUT  /admin/users/{id}/password        {password}        SetPassword
//	POST /admin/users/{id}/reset-mfa                         ResetMFA
//	POST /admin/users/{id}/roles/approve                     ApproveRoles
//	POST /admin/users/{id}/roles/reject                      RejectRoles
//	GET  /admin/role-requests                                RoleRequests
//	GET  /emergency/report?from=&to=       (RFC 3339)        EmergencyReport
//
// Each answers 204 (or the JSON it lists) and maps the errors below to
// codes: 403 "self_administration" and "second_administrator_required",
// 409 "last_administrator", 404 "no_role_request", 202 for a grant that
// waits for approval.
//
// # Users
//
// A User is one identity: an immutable random 128-bit ID (NewUserID), one
// tenant, a canonical login name (CanonicalName: NFKC, case-folded, unique
// among the tenant's users that are not removed), a Status (active,
// disabled, removed), roles in its tenant, and an Admin flag: administrative
// privileges belong to separate administrative identities. Users live in a
// UserStore: auth/memstore, auth/filestore (the embedded default) or
// pgauth.UserStore (PostgreSQL); each passes authtest.RunUserStore. Updates
// are compare-and-swap on User.Version, which is what makes lockout counters,
// TOTP replay protection and single-use recovery codes safe across
// concurrent requests and several instances.
//
// Disabling or removing a user (Service.SetStatus) ends every session
// of the user at once, and the session middleware re-reads the user's
// status and roles on every request. Removal keeps the record without its
// credentials, so IDs are never reused and audit trails keep resolving.
//
// # Administration and separation of duties
//
// The administrative operations (SetRoles, SetStatus, SetPassword, Unlock,
// AdminResetMFA, ApproveRoles and their handlers) never let an identity act
// on itself (a *RefusedError with Reason "self_administration", 403); the
// self-service paths re-verify the user instead. They never leave a tenant
// without an active administrator (Reason "last_administrator", 409
// "last_administrator"): such changes are serialised in the process and
// re-checked after they are stored, undone when another replica demoted
// the other administrators at the same time, so concurrent changes can all
// be refused but never all succeed (a crash between a change and its
// undoing is the one gap; see user_admin_rules.go). With Config.AdminRoles
// set, an administrative identity holds only administrative roles and never
// one of Config.PHIRoles. A tenant policy with ApprovePHIGrants turns a
// grant of a PHI-reading role into a RoleRequest stored with the user (file
// and PostgreSQL stores keep it), audited role_changed/"approval_requested";
// another administrator applies it with ApproveRoles (audited
// role_changed/"approved" with the requester; the requester's own approval
// is refused and audited as "second_administrator_required"). Every refusal
// is audited as a failure of the action it refused.
//
// An administrator's reset of a lost second factor (AdminResetMFA) works
// where the tenant policy lists policy.RecoveryAdminReset; it is audited as
// mfa_enrolled/"admin_reset" and ends the user's sessions. A user
// regenerates recovery codes (POST /mfa/recovery-codes, after a recent
// authentication); the old codes stop working at once.
//
// # Logging in
//
// Service.Login takes a LoginRequest (tenant, name, password,
// optionally a TOTP or recovery code, the client key for throttling and the
// audit Origin) and returns a LoginResult:
//
//   - Authenticated: start a session with Service.Begin(ctx, w, r,
//     res.User, res.MFA). MFAEnrollmentRequired and PasswordExpired tell the
//     handler to restrict the session to enrolment or password change.
//   - SecondFactorRequired: the password was right and the user has TOTP;
//     nothing is authenticated. Ask for a code and call
//     Service.VerifySecondFactor with res.Challenge (signed, bound to
//     the password, valid for 5 minutes).
//
// Every failure is ErrInvalidCredentials, whatever went wrong (unknown user,
// wrong password or code, disabled, removed or locked account), and takes
// the same path: one password hash, against a dummy hash when there is no
// usable one, compared in constant time. Throttled attempts get a
// *ThrottledError (ErrThrottled) before any hashing. Every checked attempt
// is audited (login, login_failed, mfa_failed, lockout) with a reason code
// and never with a password or code; when the audit event cannot be written
// the login fails (no audit, no access). Refusals while throttled are
// aggregated per throttle key (account or client key) and minute: the first
// is recorded at once (reason "throttled", attribute refused=1), the others
// as one event (reason "throttled_summary", attributes refused=<count>,
// window, since) when a later attempt finds the window over. One client key
// therefore adds at most ClientFreeFailures checked failures at once, about
// log2(60 s / BaseDelay) more a minute through its back-off, and two
// refusal events per window and key (per process).
//
// # Passwords
//
// Two concerns have packages of their own that auth imports and that
// import nothing of auth: auth/totp (Config.TOTP is a totp.Config;
// EnrollTOTP returns a *totp.Enrollment, ImportTOTP takes a totp.Import)
// and auth/password.
//
// Passwords are the job of package auth/password, which auth imports and
// which imports nothing of auth: Config.Passwords and
// Config.PasswordPolicies are password.Policy values, a refusal is a
// *password.Error (errors.Is(err, password.ErrWeak)), and the hasher is
// built from Config.Argon2 and Config.MaxConcurrentHashes.
// password.Policy follows NIST SP 800-63B rev 4: at least 15 code points
// when the password is the only factor and 8 with MFA, at least 64 accepted
// (default maximum 128), no truncation, NFKC normalisation, no composition
// rules, refusal of the 197,529 common and breached passwords of the embedded
// password.Blocklist and of their variants (case folded, trailing digits and symbols
// stripped, the substitutions 0→o 1→i/l 3→e 4→a 5→s 7→t @→a $→s !→i undone:
// "Passw0rd!", "Summer2024!"; reason blocklisted_variant), of repetitive or
// sequential strings and of context words (login name, tenant, application
// name), each with a password.Reason that never contains the password. The
// variant rule refuses none of 10,000 random four-word passphrases of common
// words. A maximum age
// exists for organisations that demand rotation and is off by default.
// The password hasher uses argon2id (m=19 MiB, t=2, p=1 by default) into PHC
// strings and bounds concurrent hashes; Login re-hashes when the parameters
// change.
//
// # Second factor
//
// TOTP (RFC 6238, via github.com/pquerna/otp): EnrollTOTP returns the key
// URI and a PNG QR code; ConfirmTOTP activates the enrolment with a first
// valid code and returns ten single-use recovery codes. Codes
// are accepted within ±1 step by default (totp.Config.Skew, 0 allowed; package auth/totp) and
// each at most once: the last accepted step and the reset of the failure
// counter are stored in one compare-and-swap, and one process serialises
// its read-modify-write cycles per user, so of N concurrent submissions of
// one code exactly one succeeds and the others are refused, never with an
// operational error (authtest.RunTOTPRace, also with store latency and two
// replicas). Secrets
// are 160 bits or more and stored sealed by a SecretSealer (PHISealer for a
// phi.Vault, or NewKeySealer); they never appear in logs, errors or fmt output.
//
// # Passkeys
//
// WebAuthn through github.com/go-webauthn/webauthn (Config.Passkeys, a
// passkey.Config; the stored credential is a passkey.Credential on
// User.Passkeys, at most passkey.MaxPerUser, each named):
//
//   - BeginPasskeyRegistration and FinishPasskeyRegistration register a
//     discoverable credential (attestation "none", optional AAGUID
//     allow-list);
//   - BeginPasskeyLogin(ctx, "") and FinishPasskeyLogin log in without a
//     password; the session has MFA when the authenticator verified the
//     user;
//   - where the tenant has policy.Tenant.PasskeySecondFactor, a passkey is
//     the second factor after the password: Login answers
//     SecondFactorRequired (SecondFactors lists "passkey") for a user with
//     one, BeginPasskeyLogin(ctx, res.Challenge) returns options for that
//     user's credentials, and VerifySecondFactor takes the assertion
//     (SecondFactorRequest.Passkey);
//   - BeginPasskeySession starts the session of a passkey login, recording
//     the passkey for policy.Tenant.PasskeyRoles.
//
// The relying party ID and the exact origins come from the configuration
// and are checked on every response. User verification is demanded as the
// tenant says (policy.Tenant.PasskeyUserVerification "required" or
// "preferred", else required unless passkey.Config.AllowUnverified) and
// enforced by the server on the response's flags ("user_verification_required").
// Challenges are stateless: each is signed with Config.ChallengeKey, bound
// to its ceremony and user, expires after ChallengeTTL on the injected
// clock, and completes at most one ceremony: its use is recorded in the
// AttemptStore before the response is checked, so a ceremony begun on one
// replica finishes on any other that shares the key and the store
// (pgauth.AttemptStore on PostgreSQL), and a replayed response is refused
// everywhere. A sign counter that does not increase is refused as a cloned
// authenticator ("cloned"). Passkey logins are throttled and counted like
// passwords (the same client-key and account counters, back-off and
// lockout, below). Every ceremony is audited (mfa_enrolled
// passkey_registered / passkey_removed, login passkey, failures with reason
// passkey_<reason>) with the credential's Fingerprint, never the
// credential ID, key or attestation. policy.Tenant.PasskeyRoles makes a
// passkey mandatory for the listed roles (403 "passkey_required" at the
// policy step) and keeps the last passkey of such a user from removal.
//
// # Lockout and throttling
//
// Every attempt reserves its counts before any credential is checked, so N
// parallel attempts count N: against the client key, and against the
// account — on User.Lockout when a usable account has the name, else on the
// AttemptStore under the name (unknown, disabled, removed or locked), with
// the same back-off, the same answers and one durable write either way
// (the file attempt store beside the file stores; pgauth.AttemptStore,
// shared by replicas, on PostgreSQL; the in-memory one, bounded, for one
// process).
// After LockoutConfig.FreeFailures each attempt waits an exponentially
// growing delay capped at MaxDelay (default 1h). An account is locked for
// good only when its tenant chose policy.Tenant.PermanentLockout, after
// MaxFailures (default 10, at most 100) consecutive failures, until
// Service.Unlock; by default no one can lock another user out. A
// successful login resets the account's counter and gives back its client
// key's count.
//
// # What the caller provides
//
// The caller chooses the client key (an address from a trusted extractor,
// never a raw forwarding header), keeps the Config.ChallengeKey and the
// sealer's key material secret and shared between instances, sends
// enrolment secrets and recovery codes only to the enrolling user, and
// re-authenticates a user before DisableTOTP, RegenerateRecoveryCodes and
// other sensitive changes.
//
// # What this package never does
//
// It never stores or logs a password, a TOTP secret in clear, a TOTP code or
// a recovery code; never truncates a password; never answers differently
// for unknown and known accounts (same error, same hashing work, same
// throttling, and a failure for an unknown name waits about as long as the
// store write that counts a known account's failure, a moving average);
// never trusts roles from a request; and never deletes a user record.
//
// # Sessions and automatic logoff
//
// A session token is 256 random bits; stores keep only its SHA-256, and audit
// events carry a separate random session ID. Idle (default 15 min) and
// absolute (default 12 h) limits are enforced by the server at every request
// from the injected clock, never by cookie expiry; a tenant policy can only
// shorten them. Time never runs backwards for a session: the manager keeps a
// high-water mark of its clock and measures a session no earlier than its
// recorded activity (LastSeenAt), so a backward clock step cannot extend a
// session in any store, while a forward step ends it as usual. Logout, expiry, RevokeUser and credential changes delete the
// server-side session; tokens are rotated at login, re-authentication, MFA
// confirmation, password change and break-glass. Cookies are __Host-, Secure,
// HttpOnly, SameSite=Strict; state-changing cookie requests need Fetch
// metadata and Origin checks and a per-session CSRF token (header
// X-CSRF-Token, or the form field csrf_token). Login and logout refuse
// cross-origin posts with the same check, which Service.CheckCrossOrigin
// offers to any other state-changing handler without a session (an HTML
// login form).
//
// policy.Tenant.MaxSessionsPerUser (policy file max_sessions_per_user, 0:
// unlimited) caps a user's live sessions: Begin stores the new session,
// then ends the user's oldest ones beyond the cap, each with a logout event
// whose reason is session_limit, on every SessionStore (it uses
// ListUserSessions). The new session itself is never ended by its own
// login; if the sessions cannot be listed, the new one is deleted and Begin
// fails rather than skip the cap.
//
// # One tenant policy source
//
// The login step and the request middleware enforce the same tenant
// policy: Config.Tenants is the one source, read by the login (MFA
// requirement, password policy name), the session step (timeouts, session
// cap) and the policy step (MFA, password MaxAge) of the Service New
// builds.
//
// # Access control
//
// The guard is deny by default: only routes registered with a declared
// permission are reachable, and only for roles read from the user store at
// each request (never from headers, claims or query parameters), so a role
// change or a disabled user takes effect on the next request. Denials are
// always audited, and so are attribute checks that fail to decide (503,
// reason attribute_check_error); a route's SubjectParam names the requested
// subject in its denial events.
//
// # Emergency access
//
// Break-glass elevation is bounded in time, needs a reason and a recent
// authentication, is refused for a reason shorter than the tenant's minimum
// (default 20 letters and digits in 3 words, so "x" is no reason) and
// beyond the tenant's cap of elevations per user in 24 hours (default 3;
// exact within one process, across replicas it can be exceeded by
// elevations started at the same instant), is logged durably before it takes effect, flags every
// audit actor while it lasts, and fires OnEmergency at start and end;
// EmergencyReport lists the accesses for review. The reason is kept in plain
// text in the audit trail, the session and the emergency log, so that a
// reviewer can read it after the patient's data is shredded: it must not
// contain PHI. Ask users for a justification or a ticket reference, not for
// the patient's details.
//
// # Formats
//
// Password hashes are PHC strings:
// "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>" with unpadded
// standard base64 (testdata/argon2id_golden.txt).
//
// Recovery codes are stored as "rc1$" + unpadded base64 of SHA-256 over
// "hipaakit/auth/recovery-code/v1", a zero byte, the user ID, a zero byte
// and the canonical code (24 Crockford base32 characters, lower case).
//
// The passkey challenge is version 1: 42 bytes, see passkey_challenge.go
// (testdata/passkey_challenge_v1.txt).
//
// The second-factor Challenge is version 2: "mc2." + base64url(user ID ||
// expiry as 8-byte big-endian Unix seconds || PasswordChangedAt as 8-byte
// big-endian Unix nanoseconds || last accepted TOTP step, 8 bytes || number
// of unused recovery codes, 2 bytes) + "." + base64url(HMAC-SHA256 over the
// part before the dot) (testdata/challenge_v2.txt). It completes at most
// one login.
package auth
