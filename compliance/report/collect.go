package report

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// Collect reads a deployment's stores, as cfg locates them, and returns the
// evidence Build maps to the Security Rule's controls. now stamps the
// evidence (and is what "last backup within 48 h" is measured against).
//
// # What it fills
//
//   - Identity: users on record (not removed), whether every stored user has
//     a distinct ID that matches its record, active users without a second
//     factor, and the weakest policy values of cfg (MFA requirement, minimum
//     password length, blocklist size, lockout threshold), the emergency
//     roles of cfg and the emergency accesses the audit trail recorded.
//   - Sessions and Transport: the values of cfg and, on PostgreSQL, the
//     weakest of every replica's service description
//     (hipaakit_service_descriptions).
//   - Encryption: cfg's KEK, the key store kind, subjects holding a data key
//     (phi KeyStore.List), subjects shredded (the disposal ledger: the key
//     stores do not list tombstones), and whether a local master key file
//     is kept inside the data directory (kek_file, or a legacy
//     <data_dir>/kek.key that exists) or, for embedded stores, beside it
//     (in its parent directory, the default place).
//   - Audit: the result of verifying hash chains and checkpoint signatures
//     under cfg.AuditKeys (the verification error when it fails), events,
//     signed checkpoints, the time span, cfg's audit retention, and per
//     stream the last signed checkpoint and the events after it.
//   - Disposal: ledger verification under cfg.LedgerKeys, subjects shredded,
//     signed certificates issued (ledger entries) and the last disposal.
//   - Retention: cfg's policies and the legal holds in force.
//   - Incidents: the breach incidents on record and, for each one not yet
//     notified or closed, the notice due first (breach.Plan) and whether
//     it is overdue.
//   - Backup: backups in the repository, the last one, the last full
//     verification or passed drill (signed records in the repository), and
//     the last restore drill with its outcome and RTO (the audit trail's
//     restore_drill events of this repository), and the last drill of a
//     whole backup set with the parts it restored (its event of scope
//     "set"): disaster recovery is met only when that drill passed and
//     restored every part of hipaakit.DeploymentParts, and the gap names
//     the parts it did not restore. Opening the repository needs
//     the KEK: cfg.MasterKey or the key file for a local KEK, AWS KMS
//     otherwise.
//
// A fact that cannot be read is left empty, never guessed, and
// Evidence.Notes says why; a section whose store cannot be read at all stays
// nil, which the report shows as "no evidence". Collect returns an error only
// for an invalid cfg, an unreachable database or a cancelled ctx.
//
// # What it never does
//
// It opens the deployment with hipaakit.Inspect, so the layout, the key
// location and the way each store is read are the root package's: it takes
// no lock, creates no key, directory or schema, claims no stream and never
// writes to a store (see hipaakit.Inspection for the two locks tried for an
// instant without waiting, by the audit verifier and phi/filestore.Open). A
// missing store is reported in a note, never created; PostgreSQL sessions
// run with default_transaction_read_only on.
//
// It reads the audit trail twice (verification, then the facts), so its
// time grows with the trail; memory does not.
//
// It never reads PHI: the evidence holds counts, times, identifiers of
// controls and verification messages, which name positions, never content.
func Collect(ctx context.Context, cfg serviceconfig.Config, now time.Time) (Evidence, error) {
	if err := cfg.Validate(); err != nil {
		return Evidence{}, err
	}
	now = now.UTC()
	ev := Evidence{Service: cfg.Service, GeneratedAt: now}
	in, err := inspect(ctx, &cfg)
	if errors.Is(err, hipaakit.ErrMissing) {
		// Nothing of the deployment exists: the configuration's own facts
		// and a note, every store section "no evidence".
		c := &collector{cfg: &cfg, now: now, ev: &ev}
		c.note("deployment: %v", err)
		c.policyEvidence()
		return ev, nil
	}
	if err != nil {
		return Evidence{}, err
	}
	defer in.Close()
	c := &collector{cfg: &cfg, now: now, ev: &ev, in: in}
	c.foldReplicas(ctx)
	c.policyEvidence()
	scan := c.auditEvidence(ctx)
	c.identityEvidence(ctx, scan)
	shredded := c.disposalEvidence(ctx)
	c.encryptionEvidence(ctx, shredded)
	c.retentionEvidence(ctx)
	c.backupEvidence(ctx, scan)
	c.breachEvidence(ctx)
	if err := ctx.Err(); err != nil {
		return Evidence{}, err
	}
	return ev, nil
}

type collector struct {
	cfg *serviceconfig.Config
	now time.Time
	ev  *Evidence
	in  *hipaakit.Inspection
}

// kind is the key store's kind as the evidence states it.
func (c *collector) kind() string {
	if c.in.DB != nil {
		return "postgresql"
	}
	return "file"
}

// note records why a fact is missing. Errors passed here come from the
// SDK's stores, whose messages never hold PHI.
func (c *collector) note(format string, a ...any) {
	c.ev.Notes = append(c.ev.Notes, fmt.Sprintf(format, a...))
}

// weakest returns the least strict of the configured tenant policies.
func (c *collector) weakest() serviceconfig.Policy {
	w := c.cfg.Policy
	for _, t := range c.cfg.Tenants {
		w.RequireMFA = w.RequireMFA && t.RequireMFA
		w.IdleTimeout = max(w.IdleTimeout, t.IdleTimeout)
		w.AbsoluteTimeout = max(w.AbsoluteTimeout, t.AbsoluteTimeout)
		w.LockoutThreshold = max(w.LockoutThreshold, t.LockoutThreshold)
		w.PasswordMinLength = min(w.PasswordMinLength, t.PasswordMinLength)
		if t.PasswordBlocklist == "none" {
			w.PasswordBlocklist = "none"
		}
	}
	return w
}

// policyEvidence fills the sections that come from the configuration alone.
func (c *collector) policyEvidence() {
	p := c.weakest()
	c.ev.Sessions = &SessionEvidence{IdleTimeout: time.Duration(p.IdleTimeout), AbsoluteLifetime: time.Duration(p.AbsoluteTimeout)}
	t := c.cfg.TLS
	c.ev.Transport = &TransportEvidence{TLS: t.Enabled, MinVersion: t.MinVersion, HSTS: t.HSTS, LoopbackOnly: t.LoopbackOnly}
}

// auditScan is what one pass over the audit trail found.
type auditScan struct {
	ok              bool // the pass read the whole trail
	records, checks int64
	first, last     time.Time
	emergencies     int
	drills          map[string]drillFact // the newest drill of each backup repository, by ID
	setDrills       map[string]drillFact // the newest drill of a whole set, by repository ID
	streams         map[string]*StreamCoverage
}

// cover counts a record or a checkpoint of its stream.
func (s *auditScan) cover(e audit.Entry) {
	name := ""
	if e.Record != nil {
		name = e.Record.Stream
	} else {
		name = e.Checkpoint.Stream
	}
	sc := s.streams[name]
	if sc == nil {
		sc = &StreamCoverage{Stream: name}
		s.streams[name] = sc
	}
	if e.Record != nil {
		sc.Records++
		sc.AfterCheckpoint++
		return
	}
	if e.Checkpoint.Time.After(sc.LastCheckpoint) {
		sc.LastCheckpoint = e.Checkpoint.Time
	}
	sc.AfterCheckpoint = 0
}

type drillFact struct {
	at     time.Time
	pass   bool
	rto    time.Duration
	covers []string // a set drill's restored parts
}

func (s *auditScan) add(e audit.Event) {
	s.records++
	if s.first.IsZero() || e.Time.Before(s.first) {
		s.first = e.Time
	}
	if e.Time.After(s.last) {
		s.last = e.Time
	}
	switch e.Action {
	case audit.ActionEmergencyAccess:
		if e.Reason == "start" && e.Outcome == audit.OutcomeSuccess {
			s.emergencies++
		}
	case audit.ActionRestoreDrill:
		d := drillFact{at: e.Time, pass: e.Outcome == audit.OutcomeSuccess && e.Attrs["pass"] == "true"}
		if ms, err := strconv.ParseInt(e.Attrs["rto_ms"], 10, 64); err == nil && ms >= 0 {
			d.rto = time.Duration(ms) * time.Millisecond
		}
		repo := e.Attrs["repository"]
		if repo == "" {
			break
		}
		if !d.at.Before(s.drills[repo].at) {
			s.drills[repo] = d
		}
		if e.Attrs["scope"] == "set" && !d.at.Before(s.setDrills[repo].at) {
			if c := e.Attrs["covers"]; c != "" {
				d.covers = strings.Split(c, ",")
			}
			s.setDrills[repo] = d
		}
	}
}

// auditEvidence verifies the trail and reads its facts in a second pass.
func (c *collector) auditEvidence(ctx context.Context) *auditScan {
	scan := &auditScan{drills: map[string]drillFact{}, setDrills: map[string]drillFact{}, streams: map[string]*StreamCoverage{}}
	trail, err := c.in.Audit()
	if err != nil {
		c.note("audit trail: cannot be opened: %v", err)
		return scan
	}
	keys := c.cfg.AuditPublicKeys()
	if c.in.DB != nil {
		// pgaudit verifies every stream of the schema, which may hold the
		// disposal ledger's streams too.
		keys = append(keys, c.cfg.LedgerPublicKeys()...)
	}
	a := &AuditEvidence{}
	if _, err := trail.Verify(ctx, audit.VerifyOptions{Keys: keys}); err != nil {
		a.VerifyError = err.Error()
	} else {
		a.Verified = true
	}
	scan.ok = true
	for e, err := range trail.Entries(ctx) {
		if err != nil {
			scan.ok = false
			c.note("audit trail: read stopped before its end (%v); event counts and the time span cover what was read", err)
			break
		}
		switch {
		case e.Record != nil:
			scan.add(e.Record.Event)
			scan.cover(e)
		case e.Checkpoint != nil:
			scan.checks++
			scan.cover(e)
		}
	}
	if scan.ok {
		for _, name := range slices.Sorted(maps.Keys(scan.streams)) {
			a.Streams = append(a.Streams, *scan.streams[name])
		}
	}
	a.Events, a.Checkpoints, a.First, a.Last = scan.records, scan.checks, scan.first, scan.last
	if r, err := c.cfg.AuditRetentionSpan(); err == nil {
		a.Retention = r
	}
	if a.Retention == 0 {
		c.note("audit retention: the configuration states none (audit_retention or an \"audit\" retention policy)")
	}
	c.ev.Audit = a
	return scan
}

// identityEvidence reads the user store.
func (c *collector) identityEvidence(ctx context.Context, scan *auditScan) {
	us, err := c.in.Users(ctx)
	if err != nil {
		c.note("users: the user store cannot be read: %v", err)
		return
	}
	p := c.weakest()
	id := &IdentityEvidence{UniqueIDs: us.UniqueIDs, RequireMFA: p.RequireMFA, PasswordMinChars: p.PasswordMinLength,
		LockoutThreshold: p.LockoutThreshold, EmergencyRoles: slices.Clone(c.cfg.EmergencyRoles), EmergencySessions: scan.emergencies}
	if p.PasswordBlocklist != "none" {
		id.PasswordBlocklist = password.DefaultBlocklist().Len()
	}
	for _, u := range us.Users {
		if u.Status == auth.StatusRemoved {
			continue
		}
		id.Users++
		if u.Active() && !u.MFA.Enabled() {
			id.UsersWithoutMFA++
		}
	}
	if !us.UniqueIDs {
		c.note("users: some stored user records do not have a distinct ID matching where they are stored")
	}
	if !scan.ok {
		c.note("users: emergency accesses are counted from the part of the audit trail that could be read")
	}
	c.ev.Identity = id
}

// disposalEvidence reads the disposal ledger. It returns the number of
// subjects shredded, or -1 when the ledger could not be read.
func (c *collector) disposalEvidence(ctx context.Context) int {
	l, err := c.in.Ledger(ctx)
	if err != nil && !errors.Is(err, disposal.ErrCorruptLedger) {
		c.note("disposal ledger: cannot be opened: %v", err)
		return -1
	}
	d := &DisposalEvidence{}
	c.ev.Disposal = d
	if err != nil {
		d.LedgerError = err.Error()
		return -1
	}
	defer l.Close()
	subjects := map[string]bool{}
	err = l.Entries(ctx, func(e disposal.Entry) error {
		subjects[e.Statement.Subject] = true
		if e.Statement.ID != "" {
			d.Certificates++
		}
		if e.Statement.Time.After(d.LastShred) {
			d.LastShred = e.Statement.Time
		}
		return nil
	})
	if err != nil {
		d.LedgerError = err.Error()
		d.Shreds, d.Certificates, d.LastShred = 0, 0, time.Time{}
		c.note("disposal ledger: does not verify, so its counts are not reported")
		return -1
	}
	d.LedgerVerified = true
	d.Shreds = len(subjects)
	return d.Shreds
}

// encryptionEvidence lists the key store.
func (c *collector) encryptionEvidence(ctx context.Context, shredded int) {
	ks, err := c.in.KeyStore()
	if err != nil {
		c.note("encryption: the key store cannot be opened: %v", err)
		return
	}
	e := &EncryptionEvidence{KEK: c.cfg.KEK, KeyStore: c.kind(), KeyInDataDir: c.in.KeyInsideDataDir(), KeyBesideDataDir: c.keyBesideDataDir()}
	kekIDs := map[string]int{}
	after := ""
	for {
		page, err := ks.List(ctx, after, 1000)
		if err != nil {
			c.note("encryption: the key store cannot be listed: %v", err)
			return
		}
		for _, k := range page {
			if phi.ValidSubject(k.Ref) {
				e.Subjects++
			}
			kekIDs[k.KEKID]++
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Ref
	}
	if shredded >= 0 {
		e.Shredded = shredded
	} else {
		c.note("encryption: shredded subjects are counted from the disposal ledger, which could not be read")
	}
	if len(kekIDs) > 1 {
		c.note("encryption: keysets are wrapped by %d different KEKs; finish the KEK rotation", len(kekIDs))
	}
	local := c.cfg.KEK == "local"
	for id, n := range kekIDs {
		if strings.HasPrefix(id, "local:") != local {
			c.note("encryption: %d keysets are wrapped by a KEK of another kind than the configured %q", n, c.cfg.KEK)
		}
	}
	c.ev.Encryption = e
}

// retentionEvidence states the policies and counts the holds in force.
func (c *collector) retentionEvidence(ctx context.Context) {
	hs, err := c.in.Holds(ctx)
	if errors.Is(err, hipaakit.ErrMissing) {
		// The service never opened a hold store: no hold was set through it.
		c.note("retention: there is no legal hold store (holds/), so no hold is counted")
		hs, err = nil, nil
	}
	if err != nil {
		c.note("retention: the legal hold store cannot be read: %v", err)
		return
	}
	r := &RetentionEvidence{Policies: []RetentionPolicy{}}
	ps, _ := c.cfg.RetentionPolicies() // validated
	for _, p := range ps {
		r.Policies = append(r.Policies, RetentionPolicy{Kind: p.Kind, Period: p.Keep.String(), Years: p.Keep.Years + p.Keep.Months/12})
	}
	for _, h := range hs {
		if h.Active() {
			r.Holds++
		}
	}
	c.ev.Retention = r
}
