package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
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
}

// SetMember is one backup of a set.
type SetMember struct {
	ID     string     `json:"id"`
	Source SourceInfo `json:"source"`
}

// SetConfig says what BackupSet backs up.
type SetConfig struct {
	// Name labels the set (no PHI), for example "deployment".
	Name string
	// Sources are backed up in order, each as one member. Required.
	Sources []Source
}

// BackupSet backs up every source of cfg as one set. Each source is read at
// its own moment (a PostgreSQL source in one REPEATABLE READ snapshot of
// all its tables); the set records when the first started and the last
// finished. When any member fails, BackupSet fails and writes no set (the
// members already written stay as ordinary backups that name a set which
// does not exist; they are listed, and pruned, like any other backup).
func (r *Repository) BackupSet(ctx context.Context, cfg SetConfig) (*Set, error) {
	if len(cfg.Sources) == 0 {
		return nil, errors.New("backup: a set needs at least one source (SetConfig.Sources)")
	}
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, err
	}
	s := &Set{Version: setVersion, ID: hex.EncodeToString(idb[:]), Name: cfg.Name}
	for i, src := range cfg.Sources {
		m, err := r.backup(ctx, src, backupPlan{set: s.ID, attrs: map[string]string{"set": s.ID}})
		if err != nil {
			return nil, fmt.Errorf("backup: set %s, member %d (%s): %w", s.ID, i, src.Info().Kind, err)
		}
		if i == 0 {
			s.Started = m.Started
		}
		s.Finished = m.Finished
		s.Members = append(s.Members, SetMember{ID: m.ID, Source: m.Source})
	}
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	env, err := r.keys.sealEnvelope(envSet, idb, body)
	if err != nil {
		return nil, err
	}
	if err := r.target.Put(ctx, setPrefix+s.ID, env); err != nil {
		return nil, err
	}
	return s, nil
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
		if _, ok := parseID(m.ID); !ok || seen[m.ID] || m.Source.Kind == "" {
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
// was drilled.
func (r *Repository) DrillSet(ctx context.Context, id string, optsFor func(SetMember) DrillOptions) ([]*DrillReport, error) {
	s, err := r.Set(ctx, id)
	if err != nil {
		return nil, err
	}
	var reps []*DrillReport
	var first error
	for _, mem := range s.Members {
		opts := optsFor(mem)
		opts.ID = mem.ID
		rep, err := r.Drill(ctx, opts)
		if rep != nil {
			reps = append(reps, rep)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return reps, first
}
