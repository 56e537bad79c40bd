// Package memstore keeps the stores of package auth in process memory:
// users, sessions, login attempts and break-glass records. Everything is
// lost when the process ends, so these stores are for tests and
// demonstrations (and the attempt store for a single process); they pass
// the conformance suites of auth/authtest like the file stores
// (auth/filestore) and PostgreSQL (auth/pgauth).
//
// Each store is safe for concurrent use. Updates of users are
// compare-and-swap on User.Version, as in every UserStore.
package memstore
