package backup

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"github.com/hipaakit/hipaakit/audit"
)

// CopyReport is the result of Copy.
type CopyReport struct {
	ID string
	// Copied is false when the destination already held the backup (an
	// earlier copy); it was verified again.
	Copied bool
	// Manifest is the backup's manifest in the destination: the same ID,
	// source and times, the destination's chunk names (Totals.NewChunks
	// and NewStored count what the copy uploaded).
	Manifest *Manifest
	// Verify is the full verification at the destination.
	Verify *VerifyReport
}

// Copy copies backup id from one repository to another (a second target:
// directory ↔ S3, another bucket), verified and deduplicated at the
// destination.
//
// Each entry is read from the source through its authenticated manifest,
// chunk by chunk (any damaged chunk fails the copy, and nothing is
// listed at the destination), cut and sealed again under the
// destination's keys, and only chunks the destination does not yet hold
// are uploaded. The copy keeps the backup's ID, source and times, so
// retention, legal holds and listings treat it as the same backup; it is
// written in the current format version whatever the original's. The copy
// is then verified in full at the destination (which writes its
// verification record there). Copying a backup the destination already
// holds only verifies it again, so an interrupted copy of many backups is
// finished by running it again.
//
// A member of a set keeps naming its set (CopySet copies the set itself).
//
// The source records an export event (op "copy", the destination's
// repository ID), the destination a backup event (copied_from) and its
// verification.
func Copy(ctx context.Context, from, to *Repository, id string) (rep *CopyReport, err error) {
	if from == nil || to == nil {
		return nil, errors.New("backup: Copy needs a source and a destination repository")
	}
	rep = &CopyReport{ID: id}
	m, err := from.loadManifest(ctx, id)
	if err != nil {
		return nil, err
	}
	have, err := to.loadManifest(ctx, id)
	switch {
	case err == nil:
		rep.Manifest = have
	case errors.Is(err, ErrNotFound):
		if aerr := from.writeAudit(ctx, audit.ActionExport, true, "", id, map[string]string{"op": "copy", "to_repository": to.ID()}); aerr != nil {
			return nil, aerr
		}
		rep.Manifest, err = to.backup(ctx, &manifestSource{r: from, m: m}, backupPlan{
			id: m.ID, started: m.Started, finished: m.Finished, set: m.Set,
			attrs: map[string]string{"copied_from": from.ID()},
		})
		if err != nil {
			return nil, err
		}
		rep.Copied = true
	default:
		return nil, err
	}
	rep.Verify, err = to.Verify(ctx, id, VerifyOptions{})
	return rep, err
}

// manifestSource is a Source over a stored backup: it emits each entry of
// the manifest with its content read (and authenticated) from the
// repository.
type manifestSource struct {
	r *Repository
	m *Manifest
}

func (s *manifestSource) Info() SourceInfo { return s.m.Source }

// Size implements Sizer.
func (s *manifestSource) Size(context.Context) (int64, error) { return s.m.Totals.Bytes, nil }

func (s *manifestSource) Walk(ctx context.Context, emit func(Item) error) error {
	cr := s.r.newChunkReader()
	meter := newMeter(nil, s.r.s.clock, "copy", s.m.Totals.Bytes)
	for i := range s.m.Entries {
		e := &s.m.Entries[i]
		it := Item{Path: e.Path, Type: e.Type, Mode: fs.FileMode(e.Mode), ModTime: e.ModTime, Meta: e.Meta}
		if e.Rows != 0 {
			rows := e.Rows
			it.Rows = func() int64 { return rows }
		}
		var er *entryReader
		if e.Type != EntryDir {
			er = cr.entryReader(ctx, e, s.r.s.concurrency, meter)
			it.Body = &exactReader{r: er, left: e.Size}
		}
		err := emit(it)
		if er != nil {
			er.Close()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// exactReader reads an entry's content and fails unless it has exactly the
// size its manifest gives.
type exactReader struct {
	r    io.Reader
	left int64
}

func (x *exactReader) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	x.left -= int64(n)
	if x.left < 0 || err == io.EOF && x.left != 0 {
		return n, corruptf("entry content does not match its size")
	}
	return n, err
}
