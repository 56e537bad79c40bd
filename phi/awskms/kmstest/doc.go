// Package kmstest is a fake AWS KMS for tests: an HTTP server on the loopback
// interface that speaks the KMS JSON 1.1 protocol for Encrypt and Decrypt,
// with real AES-256-GCM inside and the encryption context bound as associated
// data, so that a wrong context fails exactly as it does against KMS (HTTP
// 400, InvalidCiphertextException).
//
//	srv := kmstest.NewServer(t)
//	kek, err := awskms.New(srv.Config(), awskms.Config{KeyID: srv.KeyARN()})
//
// Knobs make the next requests fail (throttling, 5xx) so that retries can be
// tested, keys can be disabled, and counters tell how many requests arrived.
//
// # What it does not do
//
// It does not verify SigV4 signatures (it only requires a signed-looking
// Authorization header), implements no other KMS operation, and its
// ciphertext blobs are not the format of real KMS ones. Never use it outside
// tests: its keys live in memory and are discarded with the server.
package kmstest
