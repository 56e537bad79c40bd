// Package auth identifies and authenticates the people who use a hipaakit
// service (45 CFR 164.312(a)(2)(i) unique user identification and 164.312(d)
// person or entity authentication).
//
// # Users
//
// A User is one identity with an immutable random ID, a tenant, a canonical
// login name, a status (active, disabled, removed), roles in its tenant and
// a flag for administrative identities. Users live in a UserStore: memory,
// file (the embedded default) or PostgreSQL (package auth/pgauth); every
// store passes the conformance suite of package auth/authtest.
package auth
