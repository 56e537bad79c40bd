// Package passkey holds the WebAuthn passkey types of package auth: the
// stored credential (Credential, with its audit Fingerprint), the relying
// party configuration (Config, auth.Config.Passkeys) and the errors of
// the ceremonies (ErrRefused and *Error with its reason code). It imports
// nothing of auth, like auth/totp and auth/password; the ceremonies
// themselves run in auth.Service (BeginPasskeyRegistration, ...), which
// stores credentials on auth.User.Passkeys.
//
// Nothing in a Credential is secret: the private key never leaves the
// authenticator, and raw attestation is never kept. Audit events and
// errors carry a credential's Fingerprint (8 bytes of SHA-256 of its ID,
// hex), never the ID, the public key or a response.
package passkey
