// Package retentiontest holds the conformance suites that every
// implementation of retention's storage interfaces must pass: the file
// implementations in retention, the PostgreSQL ones in
// retention/pgretention, and any an application writes itself.
package retentiontest
