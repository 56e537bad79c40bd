// Package kektest is the conformance suite for phi.KEK implementations:
// hipaakit runs it against phi/localkek and phi/awskms (through the fake KMS
// server in phi/awskms/kmstest), and users run it against their own KEKs.
//
//	func TestMyKEK(t *testing.T) {
//		kektest.Run(t, func(t *testing.T) phi.KEK { return newMyKEK(t) })
//	}
//
// Run checks that Wrap and Unwrap round-trip plaintexts of 1 to 4096 bytes
// (the range AWS KMS accepts; a wrapped Tink keyset is far smaller); that
// Unwrap fails for any other associated data, for tampered, truncated,
// extended and empty ciphertexts; that wrapping is randomised and the
// ciphertext does not contain the plaintext; that ID is non-empty and stable;
// that the inputs are not modified; that the KEK is safe for concurrent use;
// and that no error text contains the plaintext (raw, hex or base64).
//
// # What it does not check
//
// The suite cannot judge the strength of the cipher or where the key lives,
// and it does not require any particular error values: implementations
// define their own typed errors. newKEK may return the same key on every
// call; the suite never unwraps across calls of newKEK.
package kektest
