package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
)

// LegalHolds tells Prune which backups a legal hold protects. A backup under
// hold is never pruned. Implementations fail closed: when the hold state
// cannot be read they return an error and Prune deletes nothing.
type LegalHolds interface {
	BackupHeld(ctx context.Context, b Info) (held bool, holdID string, err error)
}

// HoldsFunc adapts a function to LegalHolds.
type HoldsFunc func(ctx context.Context, b Info) (bool, string, error)

// BackupHeld calls f.
func (f HoldsFunc) BackupHeld(ctx context.Context, b Info) (bool, string, error) { return f(ctx, b) }

// HoldsFrom adapts a disposal.HoldChecker (retention.Registry implements it)
// to LegalHolds. A backup holds every subject's data, so while any legal hold
// is active — on any subject or record kind — every backup counts as held
// and nothing is pruned.
func HoldsFrom(h disposal.HoldChecker) LegalHolds {
	return HoldsFunc(func(ctx context.Context, _ Info) (bool, string, error) {
		return h.SubjectHold(ctx, "", nil)
	})
}

// Policy says which backups to keep, per source (kind and name), restic
// style: the newest KeepLast backups, the newest backup of each of the last
// KeepDaily days, KeepWeekly ISO weeks and KeepMonthly months that have one
// (UTC). A zero Policy keeps everything.
type Policy struct {
	KeepLast, KeepDaily, KeepWeekly, KeepMonthly int
}

func (p Policy) zero() bool {
	return p.KeepLast <= 0 && p.KeepDaily <= 0 && p.KeepWeekly <= 0 && p.KeepMonthly <= 0
}

// Decision is the plan for one backup.
type Decision struct {
	Info    Info
	Keep    bool
	Reasons []string // why it is kept: "last", "daily", "weekly", "monthly", "last verified", "legal hold <id>", "policy keeps everything"
}

// PlanPrune decides, without I/O, which backups to keep. held maps backup
// IDs under legal hold to the hold's ID. In each source group the newest
// backup that passed verification (Info.Verified) is always kept, and so is
// every held backup.
func PlanPrune(backups []Info, p Policy, held map[string]string) []Decision {
	groups := map[string][]int{}
	var order []string
	for i, b := range backups {
		k := sourceKey(b)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	out := make([]Decision, len(backups))
	for i, b := range backups {
		out[i].Info = b
	}
	for _, k := range order {
		idx := groups[k]
		// Newest first.
		sort.SliceStable(idx, func(a, b int) bool { return backups[idx[a]].Finished.After(backups[idx[b]].Finished) })
		keep := func(i int, reason string) {
			out[i].Keep = true
			out[i].Reasons = append(out[i].Reasons, reason)
		}
		if p.zero() {
			for _, i := range idx {
				keep(i, "policy keeps everything")
			}
		}
		for n, i := range idx {
			if n < p.KeepLast {
				keep(i, "last")
			}
		}
		bucket := func(limit int, reason string, key func(time.Time) string) {
			seen := map[string]bool{}
			for _, i := range idx {
				if len(seen) >= limit {
					return
				}
				kk := key(backups[i].Finished.UTC())
				if !seen[kk] {
					seen[kk] = true
					keep(i, reason)
				}
			}
		}
		bucket(p.KeepDaily, "daily", func(t time.Time) string { return t.Format("2006-01-02") })
		bucket(p.KeepWeekly, "weekly", func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) })
		bucket(p.KeepMonthly, "monthly", func(t time.Time) string { return t.Format("2006-01") })
		for _, i := range idx {
			if !backups[i].Verified.IsZero() {
				keep(i, "last verified")
				break
			}
		}
		for _, i := range idx {
			if h, ok := held[backups[i].ID]; ok {
				keep(i, "legal hold "+h)
			}
		}
	}
	return out
}

// sourceKey groups backups by source (kind and name), as a Policy does.
func sourceKey(b Info) string { return b.Source.Kind + "\x00" + b.Source.Name }

// PruneOptions configure Prune.
type PruneOptions struct {
	Policy Policy
	// DryRun computes and reports the plan and the unreferenced chunks but
	// deletes nothing.
	DryRun bool
}

// PruneReport is the result of Prune.
type PruneReport struct {
	Decisions      []Decision
	Removed        []string // backup IDs whose manifests were deleted
	ChunksDeleted  int
	BytesDeleted   int64
	ChunksUnused   int  // unreferenced chunks found
	GCDeferred     bool // a backup was running: no chunk was deleted
	StaleLocksSeen int
	// Reverified lists the backups whose verification record was damaged
	// and that Prune verified again (fully) before deciding, because each
	// is newer than its source's newest intact record; those that passed
	// count as verified in Decisions.
	Reverified []string
	// Damaged names the manifests that do not authenticate (see Listing).
	// Their backups are never pruned, and while one exists no chunk is
	// deleted (GCBlocked): the chunks it references are unknown.
	Damaged   []Problem
	GCBlocked bool
}

// Prune deletes the backups opts.Policy does not keep (never the newest
// verified backup of a source, never a backup under legal hold), then
// garbage-collects chunks no remaining manifest references. A backup whose
// verification record is damaged is verified again first (also in a dry
// run; the verification is audited and, when it passes, recorded), so a
// torn record cannot make the newest backup that verifies look unverified
// and be pruned.
//
// Garbage collection is safe while other processes back up into the same
// repository: it writes a "locks/gc-*" lock first and then looks for backup
// locks; a backup writes its lock first and then waits for garbage
// collection to finish before it lists the chunks it may reuse. With a
// strongly consistent target one of the two always sees the other, so
// garbage collection never deletes a chunk a running backup relies on: when
// a fresh backup lock exists it deletes no chunk at all (GCDeferred). Locks
// older than the stale age (a crashed process) are ignored and removed.
func (r *Repository) Prune(ctx context.Context, opts PruneOptions) (rep *PruneReport, err error) {
	rep = &PruneReport{}
	defer func() {
		attrs := map[string]string{"op": "prune", "removed": strconv.Itoa(len(rep.Removed)),
			"chunks_deleted": strconv.Itoa(rep.ChunksDeleted), "dry_run": strconv.FormatBool(opts.DryRun)}
		reason := ""
		if err != nil {
			reason = "prune_failed"
		}
		if aerr := r.writeAudit(ctx, audit.ActionRetentionPurge, err == nil, reason, "", attrs); aerr != nil && err == nil {
			err = aerr
		}
	}()
	l, err := r.ListReport(ctx)
	if err != nil {
		return rep, err
	}
	rep.Damaged = l.Damaged
	infos := l.Backups
	// Only a damaged record newer than its source's newest intact one can
	// change which backup is the newest verified.
	newestVerified := map[string]time.Time{}
	for _, b := range infos {
		if !b.Verified.IsZero() && b.Finished.After(newestVerified[sourceKey(b)]) {
			newestVerified[sourceKey(b)] = b.Finished
		}
	}
	for i := range infos {
		if infos[i].VerifiedProblem == "" || !infos[i].Finished.After(newestVerified[sourceKey(infos[i])]) {
			continue
		}
		rep.Reverified = append(rep.Reverified, infos[i].ID)
		_, verr := r.Verify(ctx, infos[i].ID, VerifyOptions{})
		var ve *VerifyError
		switch {
		case verr == nil, errors.Is(verr, ErrMarkerNotWritten):
			infos[i].Verified = r.s.clock.Now().UTC()
		case errors.As(verr, &ve):
			// Does not verify: it stays unverified.
		default:
			return rep, fmt.Errorf("backup: prune: re-verifying %s, nothing deleted: %w", infos[i].ID, verr)
		}
	}
	held := map[string]string{}
	if r.s.holds != nil {
		for _, b := range infos {
			h, id, err := r.s.holds.BackupHeld(ctx, b)
			if err != nil {
				return rep, fmt.Errorf("backup: prune: legal holds unreadable, nothing deleted: %w", err)
			}
			if h {
				held[b.ID] = id
			}
		}
	}
	rep.Decisions = PlanPrune(infos, opts.Policy, held)
	for _, d := range rep.Decisions {
		if d.Keep {
			continue
		}
		rep.Removed = append(rep.Removed, d.Info.ID)
		if opts.DryRun {
			continue
		}
		// A set goes before its first member: a listed set is complete.
		if d.Info.Set != "" {
			if err := r.target.Delete(ctx, setPrefix+d.Info.Set); err != nil {
				return rep, err
			}
		}
		// The manifest goes first: once it is gone the backup no longer
		// exists; its verification record is only a note about it.
		if err := r.target.Delete(ctx, manifestObject(d.Info.ID)); err != nil {
			return rep, err
		}
		if err := r.target.Delete(ctx, verifiedObject(d.Info.ID)); err != nil {
			return rep, err
		}
	}
	return rep, r.collect(ctx, opts.DryRun, rep)
}

// collect deletes unreferenced chunks under the GC lock protocol.
func (r *Repository) collect(ctx context.Context, dryRun bool, rep *PruneReport) error {
	start := r.s.clock.Now()
	var lock *heldLock
	if !dryRun {
		id, err := newLockID()
		if err != nil {
			return err
		}
		if lock, err = r.takeLock(ctx, gcLockPrefix+id); err != nil {
			return err
		}
		defer r.releaseLock(ctx, lock)
	}
	backups, err := r.listLocks(ctx, backupLockPrefix)
	if err != nil {
		return err
	}
	for _, l := range backups {
		if l.stale {
			rep.StaleLocksSeen++
		}
	}
	if anyFresh(backups) {
		rep.GCDeferred = true
	}
	// Referenced chunks: every manifest, read after the lock was written.
	ids, err := r.listIDs(ctx)
	if err != nil {
		return err
	}
	referenced := map[string]bool{}
	for _, id := range ids {
		m, err := r.loadManifest(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if _, ok := damaged(err); ok {
			rep.GCBlocked = true // never delete on a partial view of what is referenced
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range m.Entries {
			for _, c := range e.Chunks {
				referenced[c.Name] = true
			}
		}
	}
	var unused []ObjectInfo
	err = r.listUnder(ctx, chunkPrefix, func(o ObjectInfo, _ string) error {
		n, ok := parseChunkObject(o.Name)
		if ok && !referenced[fmt.Sprintf("%x", n[:])] {
			unused = append(unused, o)
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.ChunksUnused = len(unused)
	if dryRun || rep.GCDeferred || rep.GCBlocked {
		return nil
	}
	for _, o := range unused {
		// Stop well before our own lock could be judged stale.
		if r.s.clock.Now().Sub(start) > r.s.staleAfter/2 {
			break
		}
		if err := r.target.Delete(ctx, o.Name); err != nil {
			return err
		}
		rep.ChunksDeleted++
		rep.BytesDeleted += o.Size
	}
	for _, l := range backups {
		if l.stale {
			if err := r.target.Delete(ctx, l.name); err != nil {
				return err
			}
		}
	}
	// Verification records of backups that no longer exist (a prune that
	// stopped between deleting a manifest and its record).
	have := map[string]bool{}
	for _, id := range ids {
		have[id] = true
	}
	return r.listUnder(ctx, verifiedPrefix, func(o ObjectInfo, id string) error {
		if !have[id] {
			return r.target.Delete(ctx, o.Name)
		}
		return nil
	})
}
