// Package s3test gives tests an S3-compatible endpoint and a fresh bucket
// on it that is emptied and removed when the test ends.
//
// The endpoint comes from HIPAAKIT_TEST_S3_ENDPOINT (for example
// http://127.0.0.1:7070, as .ci/s3.sh starts versitygw), with credentials in
// HIPAAKIT_TEST_S3_ACCESS_KEY and HIPAAKIT_TEST_S3_SECRET_KEY and the region
// in HIPAAKIT_TEST_S3_REGION (default us-east-1). When the endpoint is unset
// or unreachable the test is skipped with a message, except when the CI
// environment variable is set: then it fails, so that CI never passes by
// silently skipping the S3 tests.
package s3test
