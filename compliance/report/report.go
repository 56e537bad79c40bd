package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
)

// Status is a control's standing in the report.
type Status string

// Statuses. NoEvidence is never counted as met.
const (
	Met        Status = "met"
	NotMet     Status = "not met"
	NoEvidence Status = "no evidence"
	NotJudged  Status = "not judged by software"
)

// Row is one control of the report.
type Row struct {
	Control  string   `json:"control"`
	Title    string   `json:"title"`
	Status   Status   `json:"status"`
	Evidence []string `json:"evidence,omitempty"`
	Gaps     []string `json:"gaps,omitempty"`
}

// Report maps the evidence to the Security Rule's implementation
// specifications.
type Report struct {
	Service     string    `json:"service"`
	GeneratedAt time.Time `json:"generated_at"`
	Rows        []Row     `json:"controls"`
	// Organisational lists safeguards software cannot judge; they are named so
	// that no reader mistakes the report for a full assessment.
	Organisational []Row `json:"organisational"`
	// Notes explains evidence that could not be gathered (from
	// Evidence.Notes), so a "no evidence" row says why.
	Notes []string `json:"notes,omitempty"`
}

// Thresholds the report applies; each is stated in the row it affects.
const (
	maxIdle        = 30 * time.Minute
	maxAbsolute    = 12 * time.Hour
	maxBackupAge   = 48 * time.Hour              // daily backups, with a day's grace
	maxVerifyAge   = 7 * 24 * time.Hour          // a verified copy within a week
	maxDrillAge    = 90 * 24 * time.Hour         // a restore drill every quarter
	maxRTO         = 72 * time.Hour              // the proposed 2025 rule's restore window
	maxCheckpoint  = 24 * time.Hour              // events are covered by a signed checkpoint within a day
	minRetainYears = audit.DefaultRetentionYears // six calendar years, audit.SixYearsAfter
)

// keyInDataDirGap is the gap and remediation of a local master key kept
// inside the data directory.
const keyInDataDirGap = "the local master key file is inside the data directory, so a copy of the directory decrypts every record: " +
	"move the file out of the data directory (for example beside it, as <data_dir>.master-key, mode 0600, readable only by the service), " +
	"point the service and kek_file (or HIPAAKIT_MASTER_KEY_FILE) at the new place, and keep no copy inside; " +
	"or move to AWS KMS with \"hipaakit kek migrate --to-kms\""

// Build evaluates ev. It does no I/O.
func Build(ev Evidence) Report {
	now := ev.GeneratedAt
	r := Report{Service: ev.Service, GeneratedAt: now, Notes: append([]string(nil), ev.Notes...)}
	add := func(control, title string, eval func(*Row)) {
		row := Row{Control: control, Title: title}
		eval(&row)
		r.Rows = append(r.Rows, row)
	}
	add("164.312(a)(2)(i)", "Unique user identification", func(row *Row) {
		id := ev.Identity
		if id == nil {
			row.Status = NoEvidence
			return
		}
		row.Evidence = append(row.Evidence, fmt.Sprintf("%d users", id.Users))
		judge(row, id.UniqueIDs, "user store enforces unique, immutable user IDs", "user store does not enforce unique IDs")
	})
	add("164.312(a)(2)(ii)", "Emergency access procedure", func(row *Row) {
		id := ev.Identity
		if id == nil {
			row.Status = NoEvidence
			return
		}
		row.Evidence = append(row.Evidence, fmt.Sprintf("%d emergency sessions on record for review", id.EmergencySessions))
		judge(row, len(id.EmergencyRoles) > 0, "break-glass roles: "+strings.Join(id.EmergencyRoles, ", "), "no break-glass role is configured")
	})
	add("164.312(a)(2)(iii)", "Automatic logoff", func(row *Row) {
		s := ev.Sessions
		if s == nil {
			row.Status = NoEvidence
			return
		}
		row.Evidence = append(row.Evidence, fmt.Sprintf("idle timeout %v, absolute lifetime %v (server-side)", s.IdleTimeout, s.AbsoluteLifetime))
		judge(row, s.IdleTimeout > 0 && s.IdleTimeout <= maxIdle, "", fmt.Sprintf("idle timeout must be set and at most %v", maxIdle))
		judge(row, s.AbsoluteLifetime > 0 && s.AbsoluteLifetime <= maxAbsolute, "", fmt.Sprintf("absolute lifetime must be set and at most %v", maxAbsolute))
	})
	add("164.312(a)(2)(iv)", "Encryption and decryption", func(row *Row) {
		e := ev.Encryption
		if e == nil {
			row.Status = NoEvidence
			return
		}
		row.Evidence = append(row.Evidence, fmt.Sprintf("AES-256-GCM per-subject data keys in the %s key store, wrapped by %s; %d subjects, %d shredded",
			e.KeyStore, e.KEK, e.Subjects, e.Shredded))
		judge(row, e.KEK != "" && e.KeyStore != "", "", "no key-encryption key or key store configured")
		judge(row, !e.KeyInDataDir, "", keyInDataDirGap)
		if !e.KeyInDataDir {
			judge(row, !e.KeyBesideDataDir, "", keyBesideDataDirGap)
		}
	})
	add("164.312(b)", "Audit controls", func(row *Row) {
		a := ev.Audit
		if a == nil {
			row.Status = NoEvidence
			return
		}
		row.Evidence = append(row.Evidence, fmt.Sprintf("%d events, %d signed checkpoints", a.Events, a.Checkpoints))
		if !a.First.IsZero() {
			row.Evidence = append(row.Evidence, fmt.Sprintf("span %s to %s", a.First.UTC().Format(time.RFC3339), a.Last.UTC().Format(time.RFC3339)))
		}
		judge(row, a.Events > 0, "", "the audit trail is empty")
		judge(row, a.Verified, "hash chain and checkpoint signatures verify", "verification failed: "+a.VerifyError)
		checkpointCoverage(row, a.Streams, now)
	})
	add("164.312(c)(2)", "Mechanism to authenticate ePHI", func(row *Row) {
		if ev.Audit == nil || ev.Encryption == nil {
			row.Status = NoEvidence
			return
		}
		row.Evidence = append(row.Evidence, "sealed values are AEAD-authenticated and bound to subject and field")
		judge(row, ev.Audit.Verified, "changes are recorded in a verified, hash-chained trail", "the audit trail does not verify")
	})
	add("164.312(d)", "Person or entity authentication", func(row *Row) {
		id := ev.Identity
		if id == nil {
			row.Status = NoEvidence
			return
		}
		row.Evidence = append(row.Evidence, fmt.Sprintf("passwords at least %d characters, blocklist of %d entries; lockout after %d failures",
			id.PasswordMinChars, id.PasswordBlocklist, id.LockoutThreshold))
		judge(row, id.RequireMFA, "multi-factor authentication required for all users", "MFA is not required")
		judge(row, id.UsersWithoutMFA == 0, "", fmt.Sprintf("%d active users have no second factor", id.UsersWithoutMFA))
		judge(row, id.PasswordMinChars >= 8, "", "minimum password length below 8")
		judge(row, id.LockoutThreshold > 0 && id.LockoutThreshold <= 100, "", "lockout threshold must be between 1 and 100")
	})
	add("164.312(e)(2)(i)", "Transmission integrity controls", func(row *Row) {
		t := ev.Transport
		if t == nil {
			row.Status = NoEvidence
			return
		}
		judge(row, t.TLS, "TLS "+t.MinVersion+" authenticates every byte in transit", "TLS is off")
	})
	add("164.312(e)(2)(ii)", "Transmission encryption", func(row *Row) {
		t := ev.Transport
		if t == nil {
			row.Status = NoEvidence
			return
		}
		judge(row, t.TLS, "TLS "+t.MinVersion, "TLS is off")
		if t.TLS {
			judge(row, t.HSTS, "HSTS set", "HSTS is not set")
		}
		if !t.TLS && t.LoopbackOnly {
			row.Evidence = append(row.Evidence, "plain HTTP is bound to loopback only")
		}
	})
	plan, dr, test, storage := backupRows(ev.Backup, now)
	disp, reuse := disposalRows(ev.Disposal)
	r.Rows = append(r.Rows, plan, dr, test, disp, reuse, storage)
	add("164.316(b)(2)", "Documentation retention (6 years)", func(row *Row) {
		if ev.Audit == nil || ev.Retention == nil {
			row.Status = NoEvidence
			return
		}
		row.Evidence = append(row.Evidence, fmt.Sprintf("audit trail retention %s; %d legal holds", years(ev.Audit.Retention), ev.Retention.Holds))
		for _, p := range ev.Retention.Policies {
			row.Evidence = append(row.Evidence, fmt.Sprintf("%s kept %s", p.Kind, p.Period))
		}
		judge(row, audit.RetentionCoversSixYears(ev.Audit.Retention, now), "", fmt.Sprintf("audit retention below %d calendar years", minRetainYears))
		auditPolicy := false
		for _, p := range ev.Retention.Policies {
			auditPolicy = auditPolicy || (p.Kind == "audit" && p.Years >= minRetainYears)
		}
		judge(row, auditPolicy, "", fmt.Sprintf("no retention policy keeps the audit kind for %d years", minRetainYears))
	})
	r.Rows = append(r.Rows, breachRow(ev.Incidents))
	r.Organisational = organisational()
	return r
}

// backupRows evaluates the contingency-plan rows and 164.310(d)(2)(iv).
func backupRows(b *BackupEvidence, now time.Time) (plan, dr, test, storage Row) {
	row := func(control, title string) Row { return Row{Control: control, Title: title} }
	plan, dr, test, storage = row("164.308(a)(7)(ii)(A)", "Data backup plan"), row("164.308(a)(7)(ii)(B)", "Disaster recovery plan"),
		row("164.308(a)(7)(ii)(D)", "Testing and revision procedures"), row("164.310(d)(2)(iv)", "Data backup and storage")
	if b == nil {
		plan.Status, dr.Status, test.Status, storage.Status = NoEvidence, NoEvidence, NoEvidence, NoEvidence
		return plan, dr, test, storage
	}
	plan.Evidence = append(plan.Evidence, fmt.Sprintf("%d backups to the %s target; last %s", b.Backups, b.Target, stamp(b.LastBackup)))
	judge(&plan, !b.LastBackup.IsZero() && now.Sub(b.LastBackup) <= maxBackupAge, "", fmt.Sprintf("no backup in the last %v", maxBackupAge))
	dr.Evidence = append(dr.Evidence, fmt.Sprintf("last restore drill %s, RTO %v", stamp(b.LastDrill), b.LastDrillRTO))
	judge(&dr, b.LastDrillPass, "the last drill restored and matched the manifest", "the last restore drill did not pass")
	judge(&dr, b.LastDrillRTO > 0 && b.LastDrillRTO <= maxRTO, "", fmt.Sprintf("restore time must be measured and within %v", maxRTO))
	judge(&dr, b.LedgerReplayed, "restores replay the disposal ledger before keys are used", "restores do not replay the disposal ledger")
	wholeSetDrill(&dr, b)
	test.Evidence = append(test.Evidence, "last drill "+stamp(b.LastDrill))
	judge(&test, !b.LastDrill.IsZero() && now.Sub(b.LastDrill) <= maxDrillAge, "", fmt.Sprintf("no restore drill in the last %v", maxDrillAge))
	storage.Evidence = append(storage.Evidence, "last full verification "+stamp(b.LastVerified))
	judge(&storage, !b.LastVerified.IsZero() && now.Sub(b.LastVerified) <= maxVerifyAge, "encrypted, signed, re-read and authenticated", fmt.Sprintf("no verified backup in the last %v", maxVerifyAge))
	for _, d := range b.Damaged {
		judge(&storage, false, "", "damaged backup, cannot be restored: "+d)
	}
	return plan, dr, test, storage
}

// disposalRows evaluates 164.310(d)(2)(i) and (ii).
func disposalRows(d *DisposalEvidence) (disp, reuse Row) {
	disp, reuse = Row{Control: "164.310(d)(2)(i)", Title: "Disposal"}, Row{Control: "164.310(d)(2)(ii)", Title: "Media re-use"}
	if d == nil {
		disp.Status, reuse.Status = NoEvidence, NoEvidence
	} else {
		disp.Evidence = append(disp.Evidence, fmt.Sprintf("%d subjects crypto-shredded, %d signed certificates; last %s", d.Shreds, d.Certificates, stamp(d.LastShred)))
		judge(&disp, d.LedgerVerified, "disposal ledger verifies", "disposal ledger does not verify: "+d.LedgerError)
		reuse.Evidence = append(reuse.Evidence, "sealed data is unreadable once its keys are destroyed (cryptographic erase, NIST SP 800-88); "+
			"media holding unsealed files need the organisation's sanitisation procedure")
		judge(&reuse, d.LedgerVerified, "", "disposal ledger does not verify")
	}
	return disp, reuse
}

// judge records one criterion: ok adds good (if any) to the evidence, else bad
// to the gaps. A row with any gap is not met.
func judge(row *Row, ok bool, good, bad string) {
	if ok {
		if good != "" {
			row.Evidence = append(row.Evidence, good)
		}
		if row.Status == "" {
			row.Status = Met
		}
		return
	}
	row.Gaps = append(row.Gaps, bad)
	row.Status = NotMet
}

// years renders a retention period in days (years have 365 or 366 of
// them; whether a period covers six calendar years is
// audit.RetentionCoversSixYears).
func years(d time.Duration) string {
	return strconv.FormatFloat(d.Hours()/24, 'f', -1, 64) + " days"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func organisational() []Row {
	items := [][2]string{
		{"164.308(a)(1)", "Security management process: risk analysis and risk management"},
		{"164.308(a)(2)", "Assigned security responsibility"},
		{"164.308(a)(3)", "Workforce security: authorisation, supervision, termination"},
		{"164.308(a)(4)", "Information access management: access authorisation policies"},
		{"164.308(a)(5)", "Security awareness and training"},
		{"164.308(a)(6)", "Security incident procedures"},
		{"164.308(a)(7)(ii)(C),(E)", "Emergency mode operation plan; applications and data criticality analysis"},
		{"164.308(a)(8)", "Evaluation"},
		{"164.308(b)(1)", "Business associate contracts"},
		{"164.310(a)-(c)", "Facility access controls, workstation use and security"},
		{"164.310(d)(2)(iii)", "Accountability: records of hardware and media movements"},
		{"164.316(a),(b)(1)", "Policies, procedures and their documentation"},
	}
	rows := make([]Row, len(items))
	for i, it := range items {
		rows[i] = Row{Control: it[0], Title: it[1], Status: NotJudged}
	}
	return rows
}

// keyBesideDataDirGap is the gap and remediation of a local master key kept
// beside the data directory.
const keyBesideDataDirGap = "the local master key file sits beside the data directory (the default place), so one copy of their parent directory, " +
	"volume or host backup holds both the records and the key that decrypts them: keep the key on another volume or a secrets mount " +
	"readable only by the service (kek_file, HIPAAKIT_MASTER_KEY_FILE), or move to AWS KMS with \"hipaakit kek migrate --to-kms\""

// checkpointCoverage: audit controls are met only when every stream's
// events are covered by a signed checkpoint, or those after its last one
// are younger than maxCheckpoint (the writer signs the next in time).
func checkpointCoverage(row *Row, streams []StreamCoverage, now time.Time) {
	if len(streams) == 0 {
		judge(row, false, "", "no audit stream was read, so no signed checkpoint is shown to cover the trail")
		return
	}
	for _, s := range streams {
		switch {
		case s.AfterCheckpoint == 0:
			row.Evidence = append(row.Evidence, fmt.Sprintf("stream %s: %d events, all covered by a signed checkpoint (last %s)", s.Stream, s.Records, stamp(s.LastCheckpoint)))
		case s.LastCheckpoint.IsZero():
			judge(row, false, "", fmt.Sprintf("stream %s: %d events and no signed checkpoint; truncating them would go unnoticed", s.Stream, s.AfterCheckpoint))
		case now.Sub(s.LastCheckpoint) > maxCheckpoint:
			judge(row, false, "", fmt.Sprintf("stream %s: %d events after its last signed checkpoint of %s, older than %v; truncating them would go unnoticed",
				s.Stream, s.AfterCheckpoint, stamp(s.LastCheckpoint), maxCheckpoint))
		default:
			row.Evidence = append(row.Evidence, fmt.Sprintf("stream %s: %d events after its last signed checkpoint of %s (within %v)",
				s.Stream, s.AfterCheckpoint, stamp(s.LastCheckpoint), maxCheckpoint))
		}
	}
}

// wholeSetDrill judges disaster recovery on the last drill of a whole
// backup set: it must have passed and restored every part of
// hipaakit.DeploymentParts, so that a drill of the key store alone, or
// backups that omit users, holds or the disposal ledger, are not taken for
// a recoverable deployment. The gap names the missing parts.
func wholeSetDrill(dr *Row, b *BackupEvidence) {
	if b.LastSetDrill.IsZero() {
		judge(dr, false, "", "no drill of a whole-deployment backup set: nothing shows that "+
			strings.Join(hipaakit.DeploymentParts(), ", ")+" restore together")
		return
	}
	dr.Evidence = append(dr.Evidence, fmt.Sprintf("last whole-deployment drill %s restored %s", stamp(b.LastSetDrill), strings.Join(b.SetDrillCovers, ", ")))
	var missing []string
	for _, p := range hipaakit.DeploymentParts() {
		if !slices.Contains(b.SetDrillCovers, p) {
			missing = append(missing, p)
		}
	}
	judge(dr, b.LastSetDrillPass, "", "the last whole-deployment drill did not pass")
	judge(dr, len(missing) == 0, "", "the last whole-deployment drill did not restore: "+strings.Join(missing, ", "))
}
