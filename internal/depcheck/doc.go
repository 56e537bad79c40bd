// Package depcheck holds the tests that keep hipaakit's import direction as
// the import table in the repository's ARCHITECTURE.md states it: the table
// is parsed from that file (ParseTable), a package imports only areas its
// row names, each row names only areas above it (so there are no cycles),
// and a top-level folder without a row fails the suite with a message that
// says to add one. A second test refuses exported declarations that name a
// type from an internal package.
package depcheck
