package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// Sets: backups of several sources (a whole deployment) taken together and
// restored, drilled and listed as one unit. See FORMAT.md.
const (
	setPrefix       = "sets/"
	setVersion      = 1
	envSet     byte = 3
)

// Set is a backup set: the member backups, one per source, taken one after
// another by one BackupSet call. A set exists once its object
// ("sets/<id>") is written, after every member; each member's signed
// manifest names the set (Manifest.Set), so membership cannot be forged.
type Set struct {
	Version  int         `json:"version"`
	ID       string      `json:"id"`
	Name     string      `json:"name,omitempty"`
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	Members  []SetMember `json:"members"`
	// Cut says how the members were made one moment (SetConfig.CutName):
	// for example "postgres-snapshot+ordered"; empty when nothing did.
	Cut string `json:"cut,omitempty"`
}

// SetMember is one backup of a set.
type SetMember struct {
	ID     string     `json:"id"`
	Source SourceInfo `json:"source"`
	// Covers names the parts of the whole the member holds (SetPart.Covers),
	// for example "records", "keys", "audit", "users", "holds", "ledger".
	Covers []string `json:"covers,omitempty"`
}

// Covered returns every part the members of s cover, sorted, each once.
func (s *Set) Covered() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range s.Members {
		for _, c := range m.Covers {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// SetPart is one source of a set with the parts of the whole it holds.
type SetPart struct {
	Source Source
	// Covers names what the member holds (no PHI; letters, digits, '-' and
	// '_'), recorded in the set and in the audit event of a set drill.
	Covers []string
}

// SetConfig says what BackupSet backs up.
type SetConfig struct {
	// Name labels the set (no PHI), for example "deployment".
	Name string
	// Sources are backed up in order, each as one member covering nothing
	// named; Parts after them, each with what it covers. At least one of
	// the two is required.
	Sources []Source
	Parts   []SetPart
	// Cut, when set, is called before the first member is read, and the
	// release it returns after the last: what makes the members one moment
	// (pgsource.Snapshot.Hold shares one PostgreSQL snapshot among every
	// PostgreSQL member; a write lock stops the writers of file members).
	// When Cut fails, no member is read. CutName describes in the set how
	// the members were made one moment (with or without Cut: an order).
	Cut     func(ctx context.Context) (release func() error, err error)
	CutName string
}

// BackupSet backs up every source of cfg as one set, in order. Without a
// Cut each source is read at its own moment (a PostgreSQL source in one
// REPEATABLE READ snapshot of all its tables); with one, the members share
// the moment it holds. The set records when the first started and the last
// finished. When any member fails, BackupSet fails and writes no set (the
// members already written stay as ordinary backups that name a set which
// does not exist; they are listed, and pruned, like any other backup).
func (r *Repository) BackupSet(ctx context.Context, cfg SetConfig) (_ *Set, err error) {
	parts := make([]SetPart, 0, len(cfg.Sources)+len(cfg.Parts))
	for _, src := range cfg.Sources {
		parts = append(parts, SetPart{Source: src})
	}
	parts = append(parts, cfg.Parts...)
	if len(parts) == 0 {
		return nil, errors.New("backup: a set needs at least one source (SetConfig.Sources or Parts)")
	}
	for i, p := range parts {
		if p.Source == nil {
			return nil, fmt.Errorf("backup: set part %d has no source", i)
		}
		for _, c := range p.Covers {
			if !validCover(c) {
				return nil, fmt.Errorf("backup: set part %d: a covered part must be 1 to 64 letters, digits, '-' or '_'", i)
			}
		}
	}
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, err
	}
	s := &Set{Version: setVersion, ID: hex.EncodeToString(idb[:]), Name: cfg.Name, Cut: cfg.CutName}
	if cfg.Cut != nil {
		release, err := cfg.Cut(ctx)
		if err != nil {
			return nil, fmt.Errorf("backup: set %s: hold the cut: %w", s.ID, err)
		}
		defer func() {
			if rerr := release(); rerr != nil && err == nil {
				err = fmt.Errorf("backup: set %s: release the cut: %w", s.ID, rerr)
			}
		}()
	}
	for i, p := range parts {
		m, err := r.backup(ctx, p.Source, backupPlan{set: s.ID, attrs: map[string]string{"set": s.ID}})
		if err != nil {
			return nil, fmt.Errorf("backup: set %s, member %d (%s): %w", s.ID, i, p.Source.Info().Kind, err)
		}
		if i == 0 {
			s.Started = m.Started
		}
		s.Finished = m.Finished
		s.Members = append(s.Members, SetMember{ID: m.ID, Source: m.Source, Covers: slices.Clone(p.Covers)})
	}
	if err := r.putSet(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// putSet seals and writes the set object of s.
func (r *Repository) putSet(ctx context.Context, s *Set) error {
	idb, ok := parseID(s.ID)
	if !ok {
		return corruptf("set ID is malformed")
	}
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	env, err := r.keys.sealEnvelope(envSet, idb, body)
	if err != nil {
		return err
	}
	return r.target.Put(ctx, setPrefix+s.ID, env)
}

// CopySet copies backup set id to another repository as a unit: every
// member with Copy (verified and deduplicated at the destination, keeping
// its ID and its membership of the set), then the set object, written last
// with the same ID, members, covered parts and times, so that the set
// lists, restores and drills there. Running it again after an interruption
// copies what the destination lacks and verifies the rest again. It
// returns the copy reports in the set's order; the error is the first
// member's that failed (no set is written at the destination then).
func CopySet(ctx context.Context, from, to *Repository, id string) (*Set, []*CopyReport, error) {
	if from == nil || to == nil {
		return nil, nil, errors.New("backup: CopySet needs a source and a destination repository")
	}
	s, err := from.Set(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	var reps []*CopyReport
	for _, m := range s.Members {
		rep, err := Copy(ctx, from, to, m.ID)
		if rep != nil {
			reps = append(reps, rep)
		}
		if err != nil && !errors.Is(err, ErrMarkerNotWritten) {
			return s, reps, err
		}
	}
	if err := to.putSet(ctx, s); err != nil {
		return s, reps, err
	}
	return s, reps, nil
}

func invalidCover(c string) bool { return !validCover(c) }

// validCover is a covered part's name: 1 to 64 of [A-Za-z0-9_-].
func validCover(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// DecodeSet parses and validates a set body (the plaintext inside a set
// envelope), strictly: unknown fields, trailing data, a malformed or
// repeated member fail with ErrCorrupt. It never panics.
func DecodeSet(b []byte) (*Set, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Set
	if err := dec.Decode(&s); err != nil {
		return nil, corruptf("set is not valid")
	}
	if dec.More() {
		return nil, corruptf("trailing data after set")
	}
	if s.Version != setVersion {
		return nil, fmt.Errorf("%w: set version %d", ErrUnsupportedVersion, s.Version)
	}
	if _, ok := parseID(s.ID); !ok || len(s.Members) == 0 {
		return nil, corruptf("set is malformed")
	}
	seen := map[string]bool{}
	for _, m := range s.Members {
		if _, ok := parseID(m.ID); !ok || seen[m.ID] || m.Source.Kind == "" || slices.ContainsFunc(m.Covers, invalidCover) {
			return nil, corruptf("set member is malformed")
		}
		seen[m.ID] = true
	}
	return &s, nil
}

// Set returns the authenticated set id after checking that every member
// exists and names it. A set with a missing member fails with ErrNotFound
// naming the member's manifest.
func (r *Repository) Set(ctx context.Context, id string) (*Set, error) {
	idb, ok := parseID(id)
	if !ok {
		return nil, objErr("read", setPrefix+"?", ErrNotFound)
	}
	obj := setPrefix + id
	b, err := readObject(ctx, r.target, obj, MaxEnvelopeSize)
	if err != nil {
		return nil, err
	}
	body, err := r.keys.openEnvelope(b, envSet, idb)
	if err != nil {
		return nil, objErr("read", obj, err)
	}
	s, err := DecodeSet(body)
	if err != nil {
		return nil, objErr("read", obj, err)
	}
	if s.ID != id {
		return nil, objErr("read", obj, corruptf("set names another set"))
	}
	for _, mem := range s.Members {
		m, err := r.loadManifest(ctx, mem.ID)
		if err != nil {
			return nil, err
		}
		if m.Set != id {
			return nil, objErr("read", manifestObject(mem.ID), corruptf("set member does not name the set"))
		}
	}
	return s, nil
}

// ListSets returns the complete sets (every member present), oldest first.
// A set object that does not authenticate, or whose members are not all
// present, is skipped; Prune removes such objects.
func (r *Repository) ListSets(ctx context.Context) ([]*Set, error) {
	var ids []string
	if err := r.listUnder(ctx, setPrefix, func(_ ObjectInfo, id string) error {
		if _, ok := parseID(id); ok {
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var out []*Set
	for _, id := range ids {
		s, err := r.Set(ctx, id)
		if _, bad := damaged(err); bad || errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Finished.Before(out[j].Finished) })
	return out, nil
}

// RestoreSet restores every member of set id, each into the sink that
// sinkFor returns for it, in the set's order; it stops at the first
// failure (each member's restore is itself staged and atomic).
func (r *Repository) RestoreSet(ctx context.Context, id string, sinkFor func(SetMember) (Sink, error), opts RestoreOptions) ([]*RestoreReport, error) {
	s, err := r.Set(ctx, id)
	if err != nil {
		return nil, err
	}
	var reps []*RestoreReport
	for _, mem := range s.Members {
		sink, err := sinkFor(mem)
		if err != nil {
			return reps, err
		}
		rep, err := r.Restore(ctx, mem.ID, sink, opts)
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// DrillSet drills every member of set id with the options optsFor returns
// for it (ID is set to the member). It returns one report per member; the
// error is the first failed drill's (ErrDrillFailed), after every member
// was drilled. Besides each member's event it records one for the set
// (audit.ActionRestoreDrill, attrs "scope" "set", "set", "members",
// "failed", "covers": the parts of the members that passed, "rto_ms": the
// members' restore times added up, "rpo_s": the oldest member's age), so
// that evidence can tell a drill of the whole set from a drill of a part.
func (r *Repository) DrillSet(ctx context.Context, id string, optsFor func(SetMember) DrillOptions) (reps []*DrillReport, first error) {
	s, err := r.Set(ctx, id)
	if err != nil {
		return nil, err
	}
	var rto, rpo time.Duration
	seen := map[string]bool{}
	var covers []string
	failed := 0
	for _, mem := range s.Members {
		opts := optsFor(mem)
		opts.ID = mem.ID
		rep, err := r.Drill(ctx, opts)
		if rep != nil {
			reps = append(reps, rep)
			rto += rep.RTO
			rpo = max(rpo, rep.RPO)
		}
		if err != nil && first == nil {
			first = err
		}
		if rep == nil || !rep.Pass {
			failed++
			continue
		}
		for _, c := range mem.Covers {
			if !seen[c] {
				seen[c] = true
				covers = append(covers, c)
			}
		}
	}
	sort.Strings(covers)
	pass := failed == 0
	reason := ""
	if !pass {
		reason = "drill_failed"
	}
	attrs := map[string]string{
		"scope": "set", "set": id, "pass": strconv.FormatBool(pass), "members": strconv.Itoa(len(s.Members)),
		"failed": strconv.Itoa(failed), "covers": strings.Join(covers, ","),
		"rto_ms": strconv.FormatInt(rto.Milliseconds(), 10), "rpo_s": strconv.FormatInt(int64(rpo.Seconds()), 10),
	}
	if aerr := r.writeAudit(ctx, audit.ActionRestoreDrill, pass, reason, id, attrs); aerr != nil {
		first = errors.Join(first, aerr)
	}
	return reps, first
}
