// Package totp is the RFC 6238 half of package auth's second factor: the
// configuration of new enrolments (Config, Algorithm), the enrolment a user
// scans into an authenticator app (Enrollment, from Config.Enroll), an
// existing secret brought from another system (Import), and code checking
// (ParseCode, DecodeSecret, Params.Match). Package auth stores the sealed
// secret, remembers the last accepted step (each code is accepted once) and
// rate-limits attempts; this package holds no state and imports nothing of
// auth.
//
// Guarantees:
//   - Enrollment and Import hold a secret and redact themselves under every
//     fmt verb, log/slog and encoding/json; no error contains a secret or a
//     code;
//   - secrets under 128 bits are refused (ErrWeakSecret), new enrolments
//     use at least 160; unknown algorithms, digit counts and periods are
//     refused (ErrInvalidParams);
//   - Match compares every candidate step in constant time;
//   - malformed secrets and codes return errors, never panic (both parsers
//     are fuzzed).
package totp
