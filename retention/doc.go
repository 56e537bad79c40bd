// Package retention decides, by policy, when records may be disposed of, and
// carries it out: retention policies per record kind, legal holds, a pure
// evaluation that explains every decision, and the Sweeper that hands the
// resulting disposals to package disposal (45 CFR 164.316(b)(2) six-year
// retention; 164.310(d)(2)(i) disposal).
//
// Decide with pure code, act separately:
//
//	plan := retention.Evaluate(records, policies, holds, now) // no I/O
//	for _, d := range plan.Records { fmt.Println(d.Record.ID, d.Action, d.Reason) }
//	report, err := sweeper.Sweep(ctx, retention.DryRun())     // preview, then without DryRun
//
// The audit trail's own retention goes through the same policies (kind
// "audit"): PurgeAudit for the file trail, pgretention.PurgeAudit for
// PostgreSQL; both purge whole segments or partitions only and keep what a
// hold covers. The disposal ledger is never purged by this package: it must
// outlive every backup taken before its newest entry.
//
// # What it guarantees
//
//   - A record is kept for its kind's period counted from the later of its
//     creation and its last-in-effect date. Calendar arithmetic is in UTC and
//     never ends retention early: a day the target month lacks (February 29
//     plus a year) rolls forward to the first of the next month (March 1).
//   - Every decision has a machine-readable reason; records without a
//     policy, without a date or under a legal hold are kept.
//   - A subject is crypto-shredded only when every one of its records has
//     expired and none is held, because shredding destroys all of its data.
//   - Legal holds are set and lifted with a reason and an author, audited,
//     never deleted, and block shredding, retention disposal and (through the
//     Holds interface) backup pruning of what they cover. Hold checks fail
//     closed: when holds cannot be read nothing is destroyed.
//   - The Sweeper runs once at a time across instances (an exclusive lock
//     file, or a PostgreSQL advisory lock), is resumable after a crash (a
//     persisted cursor, idempotent shreds) and has a dry-run mode.
//
// # What it leaves to the caller
//
//   - Implementing Source over the application's records (retention/pgtables
//     helps for PostgreSQL tables) and choosing the policies: the zero
//     policy set disposes of nothing.
//   - Hold reasons are operator text stored in clear: they must not contain
//     PHI.
//
// # What it never does
//
//   - Evaluate never performs I/O or reads the clock; dry runs never destroy
//     or move the cursor; nothing is disposed of without a policy.
package retention
