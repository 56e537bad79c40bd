// Package evidence writes the artefacts a CI pipeline keeps for an auditor
// — the compliance report as HTML and JSON, the suite's results as JUnit
// XML and JSON — each with a detached signature by the deployment's signing
// key (package signing), so that anyone holding the deployment's public
// keys can verify later that a file was produced by that deployment and
// not edited. "hipaakit report --verify FILE" is Verify on the command
// line.
//
// # Signature file
//
// FILE.sig is text, version 1:
//
//	hipaakit-evidence v1
//	file report.json
//	sha256 <64 hex digits of the file's SHA-256>
//	key <signing.KeyID of the signing key>
//	sig <base64 of the ed25519 signature>
//
// The signature covers the first four lines, each ending in "\n"; the file
// is named by its base name, so a signature does not vouch for a renamed
// or substituted file. Verify refuses a file whose digest, name or
// signature does not match, and a key that is not trusted, each with a
// *SignatureError naming what failed.
//
// It does not link package testing.
package evidence
