// Package clock provides the injectable clock that every time-dependent part
// of hipaakit reads: sessions, TOTP, lockout back-off, retention, checkpoints
// and key-cache ages.
//
// Production code takes a Clock and defaults to System (OrSystem turns a nil
// Clock into System). Tests use a *Fake and move it explicitly, so no test
// sleeps to observe a timeout. The package does not import testing, so a
// program that links it for a Fake (a demo, a drill) does not link the test
// framework.
package clock
