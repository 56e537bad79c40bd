package backup

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"
)

// Info summarises a complete backup.
type Info struct {
	ID       string     `json:"id"`
	Format   int        `json:"format"`        // the manifest's format version (1 or 2)
	Set      string     `json:"set,omitempty"` // the backup set it belongs to
	Source   SourceInfo `json:"source"`
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"`
	Totals   Totals     `json:"totals"`
	// Verified is when the backup last passed a full Verify or a restore
	// drill; zero if never.
	Verified time.Time `json:"verified,omitzero"`
	// VerifiedProblem, when not empty, says why the backup's verification
	// record could not be read (a corrupt or torn "verified/<id>" object).
	// The backup itself is intact and counts as never verified (Verified is
	// zero); a passing Verify or drill writes a new record.
	VerifiedProblem string `json:"verified_problem,omitempty"`
}

// verifiedRecord is the body of "verified/<id>": proof, signed with the
// repository key, that backup id passed a full verification or a drill.
type verifiedRecord struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	How  string    `json:"how"` // "verify" or "drill"
}

// Listing is the result of ListReport: the complete backups, oldest first,
// and the manifests that were skipped because they do not authenticate or
// decode.
type Listing struct {
	Backups []Info
	// Damaged names each skipped manifest ("manifests/<id>") with its error
	// (wrapping ErrCorrupt or ErrUnsupportedVersion). Such a backup is not
	// listed, cannot be restored and is never pruned; Verify of its ID
	// reports the same problem.
	Damaged []Problem
}

// List returns every complete backup (one whose manifest exists and
// authenticates), oldest first. A damaged manifest does not fail the
// listing: it is skipped; ListReport names it. A corrupt verification record
// does not fail the listing either: that backup is listed as not verified,
// with Info.VerifiedProblem saying why. An object that cannot be read (an
// I/O error, not a verdict about the object) fails the listing.
func (r *Repository) List(ctx context.Context) ([]Info, error) {
	l, err := r.ListReport(ctx)
	if err != nil {
		return nil, err
	}
	return l.Backups, nil
}

// ListReport is List that also names every damaged manifest it skipped.
func (r *Repository) ListReport(ctx context.Context) (*Listing, error) {
	ids, err := r.listIDs(ctx)
	if err != nil {
		return nil, err
	}
	l := &Listing{Backups: make([]Info, 0, len(ids))}
	for _, id := range ids {
		m, err := r.loadManifest(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // pruned while listing
		}
		if p, ok := damaged(err); ok {
			l.Damaged = append(l.Damaged, p)
			continue
		}
		if err != nil {
			return nil, err
		}
		info := Info{ID: id, Format: m.Version, Set: m.Set, Source: m.Source, Started: m.Started, Finished: m.Finished, Totals: m.Totals}
		switch v, err := r.readVerified(ctx, id); {
		case err == nil:
			info.Verified = v.Time
		case errors.Is(err, ErrNotFound):
		case errors.Is(err, ErrCorrupt), errors.Is(err, ErrUnsupportedVersion):
			// Only a note about the backup (e.g. a torn upload): the
			// backup is intact but not known to be verified.
			info.VerifiedProblem = err.Error()
		default:
			return nil, err
		}
		l.Backups = append(l.Backups, info)
	}
	sort.SliceStable(l.Backups, func(i, j int) bool {
		a, b := l.Backups[i], l.Backups[j]
		if !a.Finished.Equal(b.Finished) {
			return a.Finished.Before(b.Finished)
		}
		return a.ID < b.ID
	})
	return l, nil
}

// damaged reports whether err is a verdict about a stored object (it fails
// authentication or decoding), as opposed to a failure to read it.
func damaged(err error) (Problem, bool) {
	var oe *ObjectError
	if errors.As(err, &oe) && (errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedVersion)) {
		return Problem{Object: oe.Object, Err: oe.Err}, true
	}
	return Problem{}, false
}

func (r *Repository) writeVerified(ctx context.Context, id, how string) error {
	idb, _ := parseID(id)
	body, err := json.Marshal(verifiedRecord{ID: id, Time: r.s.clock.Now().UTC(), How: how})
	if err != nil {
		return err
	}
	env, err := r.keys.sealEnvelope(envVerified, idb, body)
	if err != nil {
		return err
	}
	return r.target.Put(ctx, verifiedObject(id), env)
}

func (r *Repository) readVerified(ctx context.Context, id string) (*verifiedRecord, error) {
	idb, _ := parseID(id)
	obj := verifiedObject(id)
	b, err := readObject(ctx, r.target, obj, 1<<16)
	if err != nil {
		return nil, err
	}
	body, err := r.keys.openEnvelope(b, envVerified, idb)
	if err != nil {
		return nil, objErr("read", obj, err)
	}
	var v verifiedRecord
	if err := json.Unmarshal(body, &v); err != nil || v.ID != id {
		return nil, objErr("read", obj, corruptf("verification record is malformed"))
	}
	return &v, nil
}

// Latest returns the newest complete backup of the given source kind (any
// kind when empty), ErrNotFound when there is none.
func (r *Repository) Latest(ctx context.Context, kind string) (Info, error) {
	all, err := r.List(ctx)
	if err != nil {
		return Info{}, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if kind == "" || all[i].Source.Kind == kind {
			return all[i], nil
		}
	}
	return Info{}, ErrNotFound
}
