// Package depcheck holds the test that keeps hipaakit's import direction as
// DESIGN.md's package table states it: a package imports only packages listed
// below it, so there are no cycles and no package (other than compliance, cmd
// and examples) that knows every other one.
package depcheck
