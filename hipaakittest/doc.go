// Package hipaakittest holds helpers for the tests of services built on
// hipaakit, as pgx ships pgxtest: a private PostgreSQL schema per test, a
// fresh bucket on an S3-compatible server, and TOTP codes computed
// independently of package auth.
//
// # Servers
//
// Postgres and PostgresSchema connect to HIPAAKIT_TEST_DATABASE_URL, or to
// DefaultPostgresURL when that is unset, create a uniquely named schema, and
// drop it when the test ends. S3 reads HIPAAKIT_TEST_S3_ENDPOINT (for example
// http://127.0.0.1:7070 for versitygw), HIPAAKIT_TEST_S3_ACCESS_KEY,
// HIPAAKIT_TEST_S3_SECRET_KEY and HIPAAKIT_TEST_S3_REGION (default
// us-east-1); S3Server.Bucket creates a bucket that is emptied and removed
// when the test ends.
//
// # Never a silent skip in CI
//
// When a server cannot be reached the test is skipped with a message that
// names the variable to set, except when the CI environment variable is set:
// then it fails, so that CI never passes by silently skipping the tests that
// need a real engine.
//
// # Audit recorders
//
// An in-memory audit trail for tests is audittest.Memory in package
// audit/audittest; it lives there so that package audit's own tests can use
// it without an import cycle.
package hipaakittest
