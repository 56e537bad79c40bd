// Package ledgertest holds the conformance suite every disposal.LedgerStore
// must pass: the file store in disposal, the PostgreSQL store in
// disposal/pgledger, and any an application writes itself.
//
// It checks the contract documented on disposal.LedgerStore: appends are
// numbered in order and found again by subject, scans yield every entry
// once, concurrent appends each get their own entry, and the ledger that
// results verifies and replays.
package ledgertest
