// Package awskms is a phi.KEK whose key never leaves AWS KMS. It talks to KMS
// through github.com/aws/aws-sdk-go-v2/service/kms (Encrypt and Decrypt).
//
//	kek, err := awskms.LoadDefault(ctx, awskms.Config{KeyID: "arn:aws:kms:us-east-1:111122223333:key/…"})
//
// LoadDefault takes region and credentials from the SDK's standard chain
// (config.LoadDefaultConfig: environment, shared files, SSO, IMDS); New takes
// an aws.Config and NewWithClient a *kms.Client. Config.Endpoint overrides
// the endpoint (a VPC endpoint, a test server), Config.Region the region;
// without any region configured, the region of a key ARN is used.
//
// # Guarantees
//
//   - Binding: Wrap passes the associated data phi gives it (the key
//     reference) to KMS as the encryption context {"hipaakit:ref":
//     base64(associatedData)} and also authenticates it locally, so Unwrap
//     with other associated data fails with ErrInvalidCiphertext — KMS itself
//     refuses to release the data key. Unwrap names the KEK's key in every
//     Decrypt, so a ciphertext made under another key fails the same way.
//   - Envelope: Wrap encrypts under a fresh 256-bit data key with AES-256-GCM
//     and has KMS encrypt only that data key, so there is no KMS size limit
//     on what is wrapped and each Wrap or Unwrap is exactly one KMS call. Data
//     keys are cleared from memory after use.
//   - Retries: calls go through the SDK's standard retryer (exponential
//     backoff with jitter, a retry token bucket) and retry throttling, 5xx
//     responses and connection errors; Config.MaxAttempts and
//     Config.MaxBackoff tune it per KEK.
//   - Errors: every KMS failure is an *Error with the operation, the AWS error
//     code and message, the HTTP status and the request ID, classed as
//     ErrInvalidCiphertext, ErrUnavailable (transient, Retryable) or
//     ErrKeyUnusable (configuration) for errors.Is. Errors never contain
//     plaintext, data keys or ciphertext bytes.
//
// # What it leaves to the caller
//
// The KMS key policy, grants and key rotation; keeping the key from being
// deleted while keysets are wrapped under it (a deleted key makes every
// subject's data unreadable); and CloudTrail, which logs each call with its
// encryption context — the base64 of the key reference, a subject ID, never
// PHI (see phi.ValidSubject). ID is "aws-kms:" followed by the key ID as
// given, so give the key ARN rather than an alias whose target may change.
//
// # Format
//
// Wrapped ciphertext, version 1:
//
//	version  1 byte   1
//	blobLen  u16      big-endian length of blob (1 to 65535)
//	blob     blobLen  KMS CiphertextBlob of the 32-byte data key
//	sealed   rest     12-byte nonce | AES-256-GCM ciphertext | 16-byte tag,
//	                  under the data key, associatedData as additional data
//
// Another version byte fails with ErrInvalidCiphertext. A golden ciphertext,
// made under a fixed key of the fake KMS in package kmstest, lives in
// testdata/.
//
// Package kmstest is a loopback fake of KMS for tests, including throttling
// and error injection.
package awskms
