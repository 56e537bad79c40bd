// Package password is the password half of package auth: the NIST SP
// 800-63B rev 4 password policy (Policy, Check and its typed refusals
// *Error with a Reason), the blocklist of common and breached passwords
// (DefaultBlocklist, NewBlocklist, LoadBlocklist) with its variant check, and
// the argon2id Hasher that stores passwords as PHC strings.
//
// Guarantees:
//   - no error, panic or fmt verb of this package contains a password or a
//     stored hash; refusals are *Error values matched by errors.Is(err,
//     ErrWeak), malformed hashes by errors.Is(err, ErrMalformedHash);
//   - passwords are NFKC-normalised before they are measured or hashed and
//     never truncated; input longer than MaxBytes is refused unhashed;
//   - a Hasher runs at most HasherConfig.MaxConcurrent hashes at once, and
//     verifying against an unknown user (an empty hash) costs the same one
//     hash as a wrong password;
//   - malformed blocklists and PHC strings return errors, never panic
//     (both parsers are fuzzed).
//
// Package auth builds its Hasher from auth.Config.Argon2 and
// auth.Config.MaxConcurrentHashes and applies the Policy of the user's
// tenant; most programs only set auth.Config.Passwords. This package
// imports nothing of auth.
package password
