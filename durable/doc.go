// Package durable holds the crash-safe file primitives that hipaakit's
// file-backed stores use, exported so that services built on hipaakit keep
// their own files the same way.
//
// # Guarantees
//
//   - WriteFileAtomic replaces a file so that after a crash a reader sees
//     either the old content or the new, never a mix: it writes a temporary
//     file in the same directory, fsyncs it, renames it over the target and
//     fsyncs the directory.
//   - RemoveDurable removes a file and fsyncs its directory, so the removal
//     survives a crash.
//   - TryLock takes an exclusive advisory lock (flock) on a lock file without
//     waiting, so that two processes never operate on one data directory at
//     once; it fails with ErrLocked when another process, or another handle
//     in this process, holds it.
//   - Errors never carry absolute paths when passed through WithoutPath.
//
// # What it leaves to the caller
//
// Locks are advisory: only processes that take them are excluded. A lock
// file on a network file system is only as reliable as that file system's
// flock.
package durable
