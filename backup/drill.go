package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// Checker is implemented by sinks that can re-read what they committed, for
// restore drills. Check compares the committed data with m — entry counts,
// sizes, row counts and content checksums (sum computes an entry's chunk
// list with the repository's keyed hash) — and returns one line per
// mismatch. Lines never hold paths or content, only entry indexes and kinds.
type Checker interface {
	Check(ctx context.Context, m *Manifest, sum func(io.Reader) ([]ChunkRef, int64, error)) (mismatches []string, err error)
}

// DrillOptions configure Drill.
type DrillOptions struct {
	// ID is the backup to drill; empty means the newest backup of Kind (or of
	// any kind when Kind is empty).
	ID   string
	Kind string
	// Sink receives the restore; it must be scratch space and implement
	// Checker. If it has a method Cleanup(context.Context) error, Drill
	// calls it at the end (backup/pgsource.NewScratchSink drops its schema). When nil, Drill restores directory and audit backups into a
	// fresh directory under ScratchDir (default os.TempDir()), and key store
	// backups into an in-memory key store after replaying Ledger. The
	// scratch copy is removed afterwards.
	Sink       Sink
	ScratchDir string
	Ledger     LedgerReplayer
	// AuditKeys, when set, make a drill of an audit-trail backup also verify
	// the restored trail (hash chain and signed checkpoints) with
	// audit.VerifyDir, trusting these checkpoint keys.
	AuditKeys signing.KeySet
}

// DrillReport is the result of a restore drill.
type DrillReport struct {
	ID         string
	Source     SourceInfo
	Pass       bool
	Mismatches []string
	Entries    int64
	Bytes      int64
	Started    time.Time
	// RTO is how long the restore and the comparison took; RPO is the age of
	// the backup (time since it finished) when the drill started.
	RTO, RPO time.Duration
}

// Drill restores a backup into scratch space, compares what was restored
// with what the manifest recorded (counts and checksums), measures the
// restore time (RTO) and the backup's age (RPO), records the result as an
// audit event (audit.ActionRestoreDrill) and reports pass or fail. A failed
// drill returns the report and an error matching ErrDrillFailed (or the
// restore's error). A passed drill counts as a verification (Info.Verified);
// when that record cannot be written the report still passes and the error
// is a *MarkerError (ErrMarkerNotWritten).
func (r *Repository) Drill(ctx context.Context, opts DrillOptions) (rep *DrillReport, err error) {
	rep = &DrillReport{Started: r.s.clock.Now()}
	defer func() {
		rep.Pass = err == nil || errors.Is(err, ErrMarkerNotWritten)
		attrs := map[string]string{
			"pass": strconv.FormatBool(rep.Pass), "entries": strconv.FormatInt(rep.Entries, 10),
			"bytes": strconv.FormatInt(rep.Bytes, 10), "mismatches": strconv.Itoa(len(rep.Mismatches)),
			"rto_ms": strconv.FormatInt(rep.RTO.Milliseconds(), 10), "rpo_s": strconv.FormatInt(int64(rep.RPO.Seconds()), 10),
			"source_kind": rep.Source.Kind,
		}
		reason := ""
		switch {
		case rep.Pass && err != nil:
			reason = "record_not_written"
		case err != nil:
			reason = "drill_failed"
		}
		if aerr := r.writeAudit(ctx, audit.ActionRestoreDrill, rep.Pass, reason, rep.ID, attrs); aerr != nil && rep.Pass {
			err = errors.Join(aerr, err)
			rep.Pass = false
		}
	}()
	id := opts.ID
	if id == "" {
		info, err := r.Latest(ctx, opts.Kind)
		if err != nil {
			return rep, err
		}
		id = info.ID
	}
	rep.ID = id
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return rep, err
	}
	rep.Source = m.Source
	rep.RPO = rep.Started.Sub(m.Finished)

	sink := opts.Sink
	if sink == nil {
		var cleanup func()
		sink, cleanup, err = defaultDrillSink(m, opts)
		if err != nil {
			return rep, err
		}
		defer cleanup()
	}
	checker, ok := sink.(Checker)
	if !ok {
		return rep, errors.New("backup: drill sink does not implement Checker")
	}
	if c, ok := sink.(interface{ Cleanup(context.Context) error }); ok {
		// Scratch space that outlives the restore (a scratch schema).
		defer func() {
			if cerr := c.Cleanup(context.WithoutCancel(ctx)); cerr != nil && err == nil {
				err = cerr
			}
		}()
	}
	var rr RestoreReport
	if err := r.restoreInto(ctx, m, sink, false, "drill", &rr); err != nil {
		rep.RTO = r.s.clock.Now().Sub(rep.Started)
		return rep, err
	}
	rep.Entries, rep.Bytes = rr.Entries, rr.Bytes
	mm, err := checker.Check(ctx, m, r.sumChunks(m))
	rep.RTO = r.s.clock.Now().Sub(rep.Started)
	if err != nil {
		return rep, err
	}
	if ds, ok := sink.(*DirSink); ok && m.Source.Kind == "audit" && opts.AuditKeys.Len() > 0 {
		if _, verr := audit.VerifyDir(ctx, ds.Dest, audit.VerifyOptions{Keys: opts.AuditKeys}); verr != nil {
			mm = append(mm, "restored audit trail fails verification: "+verr.Error())
		}
		rep.RTO = r.s.clock.Now().Sub(rep.Started)
	}
	rep.Mismatches = mm
	if len(mm) > 0 {
		return rep, fmt.Errorf("%w: %d mismatch(es), first: %s", ErrDrillFailed, len(mm), mm[0])
	}
	if err := r.writeVerified(ctx, id, "drill"); err != nil {
		return rep, &MarkerError{ID: id, Err: err}
	}
	return rep, nil
}

func defaultDrillSink(m *Manifest, opts DrillOptions) (Sink, func(), error) {
	switch m.Source.Kind {
	case "dir", "audit":
		dir, err := os.MkdirTemp(opts.ScratchDir, "hipaakit-drill-*")
		if err != nil {
			return nil, nil, fmt.Errorf("backup: drill scratch space: %w", durable.WithoutPath(err))
		}
		return NewDirSink(filepath.Join(dir, "restore")), func() { os.RemoveAll(dir) }, nil
	case "keystore":
		if opts.Ledger == nil {
			return nil, nil, errors.New("backup: a key store drill needs the disposal ledger (DrillOptions.Ledger)")
		}
		s, err := NewKeyStoreSink(memstore.New(memstore.Config{}), opts.Ledger)
		if err != nil {
			return nil, nil, err
		}
		s.TempDir = opts.ScratchDir
		return s, func() {}, nil
	default:
		return nil, nil, fmt.Errorf("%w: no default drill sink for source kind %q; set DrillOptions.Sink", ErrSourceKind, m.Source.Kind)
	}
}

// Check implements Checker: every entry exists with its type, size, mode
// and content; nothing else exists.
func (d *DirSink) Check(ctx context.Context, m *Manifest, sum func(io.Reader) ([]ChunkRef, int64, error)) ([]string, error) {
	var mm []string
	want := make(map[string]int, len(m.Entries))
	for i, e := range m.Entries {
		want[e.Path] = i
		p := filepath.Join(d.Dest, filepath.FromSlash(e.Path))
		st, err := os.Lstat(p)
		if err != nil {
			mm = append(mm, fmt.Sprintf("entry %d: missing", i))
			continue
		}
		switch e.Type {
		case EntryDir:
			if !st.IsDir() {
				mm = append(mm, fmt.Sprintf("entry %d: not a directory", i))
			}
		case EntryFile:
			if !st.Mode().IsRegular() {
				mm = append(mm, fmt.Sprintf("entry %d: not a regular file", i))
				continue
			}
			if st.Size() != e.Size {
				mm = append(mm, fmt.Sprintf("entry %d: size %d, manifest %d", i, st.Size(), e.Size))
				continue
			}
			f, err := os.Open(p)
			if err != nil {
				return mm, fmt.Errorf("backup: drill check: %w", durable.WithoutPath(err))
			}
			refs, _, err := sum(f)
			f.Close()
			if err != nil {
				return mm, fmt.Errorf("backup: drill check: %w", durable.WithoutPath(err))
			}
			if !slices.Equal(refs, e.Chunks) {
				mm = append(mm, fmt.Sprintf("entry %d: checksum differs", i))
			}
		}
		if uint32(st.Mode().Perm()) != e.Mode {
			mm = append(mm, fmt.Sprintf("entry %d: mode differs", i))
		}
	}
	extra := 0
	err := filepath.WalkDir(d.Dest, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == d.Dest {
			return nil
		}
		rel, _ := filepath.Rel(d.Dest, p)
		if _, ok := want[filepath.ToSlash(rel)]; !ok {
			extra++
		}
		return nil
	})
	if err != nil {
		return mm, fmt.Errorf("backup: drill check: %w", durable.WithoutPath(err))
	}
	if extra > 0 {
		mm = append(mm, fmt.Sprintf("%d entries not in the manifest", extra))
	}
	return mm, ctx.Err()
}

// Check implements Checker: the store holds exactly the keysets of the dump
// that the ledger did not shred, with the same ciphertext; restored plus
// shredded equals the row count the manifest recorded.
func (k *KeyStoreSink) Check(ctx context.Context, m *Manifest, sum func(io.Reader) ([]ChunkRef, int64, error)) ([]string, error) {
	var mm []string
	var rows int64
	for _, e := range m.Entries {
		rows += e.Rows
	}
	if int64(k.Restored+k.Shredded) != rows {
		mm = append(mm, fmt.Sprintf("keysets: restored %d + shredded %d, manifest %d", k.Restored, k.Shredded, rows))
	}
	n := 0
	after := ""
	for {
		ks, err := k.Store.List(ctx, after, 500)
		if err != nil {
			return mm, fmt.Errorf("backup: drill check: %w", err)
		}
		for _, w := range ks {
			want, ok := k.digests[w.Ref]
			if !ok || want != digest(w.Ciphertext) {
				mm = append(mm, fmt.Sprintf("keyset %d: not as backed up", n))
			}
			n++
			after = w.Ref
		}
		if len(ks) < 500 {
			break
		}
	}
	if n != k.Restored {
		mm = append(mm, fmt.Sprintf("keysets: store holds %d, restored %d", n, k.Restored))
	}
	return mm, nil
}
