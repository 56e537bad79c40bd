package hipaakit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/signing"
)

// The parts of a deployment a whole-deployment backup set covers
// (backup.SetMember.Covers). A set covers the deployment when it covers
// every one of DeploymentParts.
const (
	PartRecords     = "records"      // the application's directories or tables (AppDirs, the main schema)
	PartKeys        = "keys"         // the key store, restored through the disposal ledger
	PartAudit       = "audit"        // the audit trail
	PartUsers       = "users"        // users and their credentials (no sessions: a restore signs everyone out)
	PartHolds       = "holds"        // legal holds
	PartLedger      = "ledger"       // the disposal ledger
	PartEmergency   = "emergency"    // the emergency-access (break-glass) log
	PartIncidents   = "incidents"    // the breach incident record
	PartSigningKeys = "signing-keys" // the trusted public keys that verify checkpoints and certificates
)

// DeploymentParts are the parts a backup set must cover, and its drill
// restore, for the deployment to be recoverable as a whole: the report
// (compliance/report) marks disaster recovery met only when the last
// whole-deployment drill restored each of them. PartRecords is not among
// them: a deployment may keep no records of its own.
func DeploymentParts() []string {
	return []string{PartKeys, PartAudit, PartUsers, PartHolds, PartLedger, PartEmergency, PartIncidents, PartSigningKeys}
}

// Set names and cuts (backup.Set.Cut).
const (
	setName = "deployment"
	// cutOrdered: the members are read one after another in the order
	// SetSources.SetConfig gives, chosen so that a restore is safe (records before the keys
	// that open them, keys before the disposal ledger, the audit trail
	// last).
	cutOrdered = "ordered"
	// cutSnapshot: every PostgreSQL member reads one exported snapshot;
	// the others are read after it, in order.
	cutSnapshot = "postgres-snapshot+ordered"
)

// SetSources is what a whole-deployment backup set reads: the Deployment's
// own (Deployment.BackupSet), or those a program that backs a deployment up
// without opening it assembles (the CLI's `backup create --all`).
type SetSources struct {
	// DataDir is the data directory. With the embedded stores the set reads
	// its users, holds, disposal ledger, breach incidents, emergency log and
	// audit trail.
	DataDir string
	// AppDirs are the application's directories inside DataDir (embedded
	// stores), backed up as the records.
	AppDirs []string
	// Keys is the key store (required), restored through the disposal
	// ledger (backup.KeyStoreSink).
	Keys phi.KeyStore
	// Trusted are the public keys backed up as trusted-keys.pem (never a
	// private key).
	Trusted signing.KeySet
	// DB, Schema and LedgerSchema, on PostgreSQL: the main schema (records,
	// audit trail, users, holds, emergency log, breach incidents) and the
	// disposal ledger's.
	DB                   *pgxpool.Pool
	Schema, LedgerSchema string
	Clock                clock.Clock
}

// SetConfig returns the set: its parts in the order that makes it
// consistent, and its cut.
//
// With the embedded stores each part is read at its own moment, one after
// another; the order is what makes the set consistent where it matters:
// records (AppDirs) before keys, so every record of the set has its keyset
// in the set unless its subject was shredded meanwhile (the ledger, read
// later, then holds the shred); keys before the ledger, so every subject
// whose keyset is missing from the keys member because it was shredded is
// in the ledger member, and a restore (which replays the ledger) never
// brings one back; the audit trail last, so it records every operation the
// other members show except one still in flight. Users, holds, the
// emergency log and the trusted keys may be of a later moment than the
// records.
//
// On PostgreSQL the main schema and the ledger's schema are read in one
// exported snapshot (a new pgsource.Snapshot, the set's cut): one moment of
// the database. The key store is read after that moment, so every keyset a
// record of the snapshot needs is in the set unless its subject was
// shredded after it (the ledger then keeps it shredded: the mirror outside
// the database, which start-up replays, holds that shred). In the main
// schema, keysets are backed up through the key store member, and the
// stream leases, sessions, login-attempt counts and the login-challenge
// key are run-time state: those tables are backed up without their rows (a
// restored deployment draws a new challenge key, which only ends the
// logins in flight, rather than find one wrapped by a KEK since retired).
func (s SetSources) SetConfig() backup.SetConfig {
	files := &filesSource{dataDir: s.DataDir, trusted: s.Trusted, clock: clock.OrSystem(s.Clock), emergency: s.DB == nil}
	keys := backup.SetPart{Source: backup.KeyStoreSource{Store: s.Keys, Name: "keys"}, Covers: []string{PartKeys}}
	if s.DB != nil {
		snap := pgsource.NewSnapshot(s.DB)
		return backup.SetConfig{Name: setName, Cut: snap.Hold, CutName: cutSnapshot, Parts: []backup.SetPart{
			{Source: pgsource.Source{Pool: s.DB, Schema: s.Schema, Snapshot: snap,
				SkipRows: []string{"phi_keysets", "hipaakit_stream_leases", "auth_sessions", "auth_attempts", challengeKeyTable}},
				Covers: []string{PartRecords, PartAudit, PartUsers, PartHolds, PartEmergency, PartIncidents}},
			keys,
			{Source: pgsource.Source{Pool: s.DB, Schema: s.LedgerSchema, Snapshot: snap}, Covers: []string{PartLedger}},
			{Source: files, Covers: []string{PartSigningKeys}},
		}}
	}
	path := func(name string) string { return filepath.Join(s.DataDir, name) }
	var parts []backup.SetPart
	for _, dir := range s.AppDirs {
		parts = append(parts, backup.SetPart{Source: backup.DirSource{Root: path(dir), Kind: "dir", Name: dir}, Covers: []string{PartRecords}})
	}
	parts = append(parts, keys,
		backup.SetPart{Source: backup.DirSource{Root: path(DirUsers), Kind: "dir", Name: DirUsers}, Covers: []string{PartUsers}},
		backup.SetPart{Source: backup.DirSource{Root: path(DirHolds), Kind: "dir", Name: DirHolds}, Covers: []string{PartHolds}},
		backup.SetPart{Source: backup.DirSource{Root: path(DirLedger), Kind: "dir", Name: DirLedger}, Covers: []string{PartLedger}},
		backup.SetPart{Source: backup.DirSource{Root: path(DirBreach), Kind: "dir", Name: DirBreach}, Covers: []string{PartIncidents}},
		backup.SetPart{Source: files, Covers: []string{PartEmergency, PartSigningKeys}},
		backup.SetPart{Source: backup.AuditSource(path(DirAudit)), Covers: []string{PartAudit}},
	)
	return backup.SetConfig{Name: setName, CutName: cutOrdered, Parts: parts}
}

// setSources are the deployment's own.
func (d *Deployment) setSources() SetSources {
	s := SetSources{DataDir: d.cfg.DataDir, AppDirs: d.cfg.AppDirs, Keys: d.Keys, Trusted: d.TrustedKeys(), Clock: d.Clock}
	if d.DB != nil {
		s.DB, s.Schema, s.LedgerSchema = d.DB, d.Schema, d.LedgerSchema
	}
	return s
}

// setBackupSources makes the set's parts the deployment's backup sources,
// and adds the drill kinds they need.
func (d *Deployment) setBackupSources() {
	kinds := map[string]bool{}
	for _, p := range d.setSources().SetConfig().Parts {
		d.BackupSources = append(d.BackupSources, p.Source)
		k := p.Source.Info().Kind
		if kinds[k] {
			continue
		}
		kinds[k] = true
		dr := Drill{Kind: k}
		if k == "postgres" {
			pool := d.DB
			dr.Sink = func() backup.Sink { return pgsource.NewScratchSink(pool) }
		}
		d.Drills = append(d.Drills, dr)
	}
}

// BackupSet backs up the whole deployment as one backup set named
// "deployment": every part of DeploymentParts (and the records), in the
// order and under the cut that make it consistent (SetSources.SetConfig;
// on PostgreSQL one snapshot of the database for every table). It is what
// DrillSet restores, and what a restore of the deployment puts back.
func (d *Deployment) BackupSet(ctx context.Context) (*backup.Set, error) {
	return d.Backups.BackupSet(ctx, d.setSources().SetConfig())
}

// LatestSet returns the newest complete backup set (backup.ErrNotFound when
// there is none).
func (d *Deployment) LatestSet(ctx context.Context) (*backup.Set, error) {
	sets, err := d.Backups.ListSets(ctx)
	if err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("hipaakit: no backup set: %w", backup.ErrNotFound)
	}
	return sets[len(sets)-1], nil
}

// DrillSet restores every member of backup set id (the newest set when id
// is empty) into scratch space — directories under the data directory's
// scratch space, an in-memory key store after replaying the disposal
// ledger, a scratch PostgreSQL schema — and compares each with its
// manifest; a restored audit trail must also verify with the deployment's
// trusted keys. It records one audit event for the set naming the parts
// that were restored (backup.Repository.DrillSet). A failed member is a
// DrillResult with Err set (ErrDrillFailed, or the first failed member's
// error); the error is returned only when the set could not be read.
func (d *Deployment) DrillSet(ctx context.Context, id string) ([]DrillResult, error) {
	if id == "" {
		s, err := d.LatestSet(ctx)
		if err != nil {
			return nil, err
		}
		id = s.ID
	}
	var members []backup.SetMember
	reps, err := d.Backups.DrillSet(ctx, id, func(m backup.SetMember) backup.DrillOptions {
		members = append(members, m)
		opts := backup.DrillOptions{ScratchDir: d.path(DirScratch), Ledger: d.Ledger}
		if m.Source.Kind == "audit" {
			opts.AuditKeys = d.TrustedKeys().Keys()
		}
		for _, dr := range d.Drills {
			if dr.Kind == m.Source.Kind && dr.Sink != nil {
				opts.Sink = dr.Sink()
			}
		}
		return opts
	})
	if len(reps) == 0 && err != nil {
		return nil, err
	}
	results := make([]DrillResult, 0, len(reps))
	for i, rep := range reps {
		r := DrillResult{Kind: rep.Source.Kind, Report: rep}
		if i < len(members) && members[i].ID == rep.ID {
			r.Covers = members[i].Covers
		}
		if !rep.Pass {
			r.Err = backup.ErrDrillFailed
			if err != nil {
				r.Err = err
			}
		}
		results = append(results, r)
	}
	return results, nil
}

// filesSource is the source of a deployment's own small files: the trusted
// public keys (trusted-keys.pem, never the private signing key) and, with
// the embedded stores, the emergency log.
type filesSource struct {
	dataDir   string
	trusted   signing.KeySet
	clock     clock.Clock
	emergency bool
}

func (f *filesSource) Info() backup.SourceInfo {
	return backup.SourceInfo{Kind: "dir", Name: "deployment"}
}

func (f *filesSource) Walk(ctx context.Context, emit func(backup.Item) error) error {
	pem := f.trusted.EncodePEM()
	if err := emit(backup.Item{Path: "trusted-keys.pem", Type: backup.EntryFile, Mode: 0o644, ModTime: f.clock.Now(),
		Body: bytes.NewReader(pem), Size: int64(len(pem)), SizeKnown: true}); err != nil {
		return err
	}
	if !f.emergency {
		return nil
	}
	file, err := os.Open(filepath.Join(f.dataDir, FileEmergency))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hipaakit: back up the emergency log: %w", durable.WithoutPath(err))
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return fmt.Errorf("hipaakit: back up the emergency log: %w", durable.WithoutPath(err))
	}
	// Read to the size seen now: lines appended meanwhile belong to the
	// next backup.
	return emit(backup.Item{Path: FileEmergency, Type: backup.EntryFile, Mode: 0o600, ModTime: st.ModTime(),
		Body: io.LimitReader(file, st.Size())})
}

// openS3LedgerMirror moves the PostgreSQL disposal ledger's mirror to the
// S3 backup bucket when backups go to S3 (backup.LedgerMirror, this
// process's ledger stream): one mirror that every replica shares and that
// outlives any of their data directories, under the bucket's object-lock
// retention when the bucket sets a default one. The data directory's file
// mirror stays beside it as the second mirror that start-up replays
// (extraReplay), so that disposals it recorded before the move stay
// applied.
func (d *Deployment) openS3LedgerMirror(ctx context.Context) error {
	if d.cfg.Backup.S3Bucket == "" {
		return nil
	}
	m, err := backup.OpenLedgerMirror(ctx, d.backupTgt, backup.LedgerMirrorConfig{Stream: d.LedgerStream(), Clock: d.Clock})
	if err != nil {
		return fmt.Errorf("hipaakit: open the disposal ledger's mirror in the backup bucket: %w", err)
	}
	d.extraReplay = disposal.NewLedger(d.ledgerMirror)
	d.ledgerMirror = m
	return nil
}
