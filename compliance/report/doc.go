// Package report builds the HIPAA Security Rule control-mapping report of a
// deployed service: Collect reads the deployment's stores, as a
// serviceconfig.Config locates them, into Evidence, Build maps the evidence
// to the Security Rule's implementation specifications, and a Report renders
// as Markdown, HTML or JSON. "hipaakit report" is this package on the
// command line.
//
// # What it guarantees
//
// Collect never writes to a store and never reads PHI: the evidence holds
// counts, times, control identifiers and verification messages (see Collect
// for the exact reads, and the two locks it tries for an instant). A fact
// that cannot be read is left empty and Evidence.Notes says why; Build
// reports a control without evidence as "no evidence", never as met. Build
// does no I/O. A "met" rests on evidence covering the control as a whole:
// encryption needs the local master key neither inside nor beside the data
// directory, audit controls need every stream covered by a signed
// checkpoint (or its uncovered tail younger than a day), and breach
// notification lists every incident still owing a notice with its next
// deadline, an overdue one being a gap. Rendering escapes control characters and bidirectional
// overrides in every field, so a hostile value in a store cannot forge rows
// or rewrite the terminal.
//
// # Scheduled self-audit
//
// SelfAudit runs the report inside a service every period (daily by
// default, on the injected clock) and records each result in the audit
// trail as a SelfAuditAction event naming the controls met, not met and
// without evidence, so regular evaluation leaves a verifiable trace; a
// control that was met in the previous result and is not now calls
// SelfAuditConfig.OnRegression. With replicas on one PostgreSQL database,
// AdvisoryLock makes exactly one replica run each period (the check for
// the period's result and the record happen under the lock); without it,
// a process serialises its own runs only.
//
// It does not link package testing: a production binary may embed the
// report (the compliance suite, which does, is package compliance).
package report
