// Package breach supports the response to a breach of unsecured protected
// health information under the Breach Notification Rule (45 CFR
// 164.400–414): it records incidents, scopes the affected subjects from the
// audit trail, records the four-factor risk assessment, computes the
// required notices with their deadlines, and produces audited mailing
// lists.
//
// # Incidents
//
// Manager (New) records an incident (Open): the discovery date — the first
// day the breach was known or, exercising reasonable diligence, would have
// been known (164.404(a)(2)) — in an explicit IANA time zone, who reported
// it, a description and the suspected vector. Every later change (Update,
// Assess, RecordScope, MarkNotified, Close) is an Entry: who, when, which
// operation and, per field, the prior and the new value. Entries are
// append-only and numbered without gaps; Fold rebuilds the incident and
// checks that every prior value is the value the history gave the field.
// The file store (OpenFileStore) and the PostgreSQL store (breach/pgbreach)
// keep the same encoding (FORMAT.md) and pass one conformance suite
// (breach/breachtest).
//
// # Scoping
//
// ComputeScope reads the whole audit trail through audit.VerifiedSearcher
// and selects the successful accesses that match the Indicators (actors,
// sessions, client networks, routes, records, a time window). For each
// subject it lists the data elements accessed, the form of the exposure
// and the evidence (stream and sequence number of each audit record). The
// result is sorted and deterministic (Scope.Digest), and exportable as CSV
// or JSON for counsel (WriteScopeCSV, WriteScopeJSON).
//
// The safe harbor: a subject whose every exposure was of sealed values
// (events with the attribute exposure=sealed: phi ciphertext handed out
// unopened, which phi.Vault.ServeSealed records) while neither
// the KEK nor the subject's keys were compromised is excluded with
// ReasonSecured, since encrypted PHI whose key is intact is not unsecured
// PHI (HHS guidance under HITECH 13402(h)(2)).
//
// # Assessment and notices
//
// Assess records the four factors of 164.402(2) and a Conclusion with its
// author; an incident is presumed a breach until an assessment concludes a
// low probability of compromise, an exception of 164.402(1) or secured
// PHI. Plan lists the notices owed for the Counts that CountResidents
// derives from the application's Resolver: individuals within 60 calendar
// days of discovery (164.404), substitute notice for insufficient contact
// information (164.404(d)(2)), prominent media for a State with more than
// 500 residents affected (164.406), HHS with the individuals for 500 or
// more (164.408(b)) or in the annual log 60 days after the end of the
// calendar year (164.408(c)), and, for a business associate, the covered
// entity (164.410). A law-enforcement delay (164.412) moves deadlines to
// its end.
//
// # What it guarantees
//
//   - No audit, no change: every change to an incident, every contact
//     reveal and every mailing-list disclosure is written to the audit
//     Writer first; when that fails the operation does not happen
//     (ErrAudit).
//   - No PHI in the incident record: free text is checked (CheckText)
//     and refused with ErrPHIText when it holds an e-mail address, a long
//     number or a numeric date; subjects appear by opaque identifier only.
//     Errors never quote free text, contact details or paths.
//   - Contact details only through RevealContacts: a privacy-officer role,
//     one audited reveal per subject before the resolver is asked, one
//     recorded disclosure to the mail house per subject before a byte of
//     the list is written. Contact holds phi.Text values that redact
//     themselves under fmt, slog and encoding/json.
//   - Verified scoping: ComputeScope never answers from a trail that does
//     not verify (ErrTrailUnverified wraps the *audit.VerifyError).
//   - Deadlines are calendar days in the incident's time zone
//     (AddCalendarDays), unaffected by daylight saving, across year ends
//     and leap years; the clock is injectable (Config.Clock).
//   - Bad input is a typed error (ErrInvalid with *FieldError,
//     ErrMalformed and ErrVersion with *EntryError), never a panic;
//     ParseEntry, ParseDirectory and ReadScopeJSON are fuzzed.
//
// # What it leaves to the application
//
// The Resolver (State of residence and contact details; Directory reads
// one from a JSON Lines file the application exports, FORMAT.md), the content and
// sending of the notices, and the judgment of the assessment: the package
// records the factors and the conclusion, it does not decide them.
package breach
