package backup

import (
	"context"
	"errors"
	"time"
)

// parentSafety is how long before its backup started a file must have been
// last modified for the backup's chunks of it to be reused: a file written
// within the same clock tick as the backup read it could change again
// without its modification time changing.
const parentSafety = 2 * time.Second

// parentSet holds the file entries of the previous backup of a source,
// whose chunks a new backup reuses for files that did not change.
type parentSet struct {
	entries map[string]*Entry
	before  time.Time // only files modified before this are reused
}

// parentEntries returns the file entries of the newest backup of the same
// source (kind and name) written with the same chunking, keeping only
// entries whose every chunk is stored (known). Without one, it returns an
// empty set; a parent that cannot be read is no error (the backup reads
// every file).
func (r *Repository) parentEntries(ctx context.Context, src SourceInfo, maxChunk int, known *chunkSet) (*parentSet, error) {
	ps := &parentSet{}
	infos, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(infos) - 1; i >= 0; i-- {
		in := infos[i]
		if in.Format < 2 || in.Source.Kind != src.Kind || in.Source.Name != src.Name {
			continue
		}
		m, err := r.loadManifest(ctx, in.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if _, bad := damaged(err); bad {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m.ChunkSize != maxChunk {
			return ps, nil
		}
		ps.entries, ps.before = map[string]*Entry{}, m.Started.Add(-parentSafety)
	entries:
		for j := range m.Entries {
			e := &m.Entries[j]
			if e.Type != EntryFile || e.ModTime.IsZero() {
				continue
			}
			for _, c := range e.Chunks {
				n, ok := decodeChunkName(c.Name)
				if !ok || !known.has(n) {
					continue entries
				}
			}
			ps.entries[e.Path] = e
		}
		return ps, nil
	}
	return ps, nil
}

// unchanged returns the parent's entry for it when the file is unchanged:
// the same path, size, modification time and mode, modified well before
// the parent backup started.
func (ps *parentSet) unchanged(it Item, mode uint32) *Entry {
	if ps == nil || ps.entries == nil || it.Type != EntryFile || !it.SizeKnown || it.ModTime.IsZero() {
		return nil
	}
	pe := ps.entries[it.Path]
	if pe == nil || pe.Size != it.Size || pe.Mode != mode || !pe.ModTime.Equal(it.ModTime.UTC()) || !pe.ModTime.Before(ps.before) {
		return nil
	}
	return pe
}
