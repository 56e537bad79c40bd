// Package s3target is a backup.Target in an S3 bucket, through
// github.com/aws/aws-sdk-go-v2/service/s3. It works with AWS S3 and with
// S3-compatible stores (versitygw, MinIO, Ceph) through an endpoint
// override and path-style addressing (NewClient).
//
// # What it guarantees
//
// Put is one PutObject, or for objects of at least PartSize bytes a
// multipart upload whose parts go up concurrently and which is aborted on
// any failure, so an object is either absent, the old object or the whole
// new one (S3 makes CompleteMultipartUpload atomic). Requests are retried
// with the SDK's standard retryer (exponential backoff with jitter on
// throttling, 5xx and network errors; MaxAttempts attempts in all) and a
// request that still fails is an error, never a silent success. S3 is
// strongly consistent, as backup.Target requires. With ObjectLock set, every
// object (except the short-lived locks under "locks/") is written with an
// object-lock retention (GOVERNANCE or
// COMPLIANCE mode) so that it cannot be deleted or overwritten before the
// retention ends, also not by someone holding the repository's credentials
// (COMPLIANCE).
//
// # What it leaves to the caller
//
// The bucket, its encryption at rest, its access policy, versioning and
// object lock configuration (object lock must be enabled on the bucket), and
// lifecycle rules that expire non-current versions: with versioning, Delete
// leaves a delete marker, and the data stays until the retention ends and a
// lifecycle rule removes it. Credentials.
//
// # What it never does
//
// It never logs, never reads the environment (the caller builds the client,
// for example cmd/hipaakit from its flags and environment), and never puts
// object content in errors; errors name the object key.
package s3target
