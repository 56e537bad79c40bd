package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hipaakit/hipaakit/durable"
)

// SealedSegment is a segment of a file log that is no longer written: a
// later segment starts with a signed anchor checkpoint of its last record.
// audit/archive archives such segments whole.
type SealedSegment struct {
	SegmentInfo
	// LastSeq is its last record's sequence number (the next segment's
	// FirstSeq - 1).
	LastSeq uint64
	// WrittenBy is the time of a signed checkpoint made after every record
	// of the segment was written (the bound Purge decides retention by).
	WrittenBy time.Time
}

// SealedSegments lists the log's sealed segments, oldest first: every
// segment but the one being written. It fails when a segment after one of
// them does not start with an anchor signed by the log's keys.
func (l *FileLog) SealedSegments(ctx context.Context) ([]SealedSegment, error) {
	segs, err := l.reader.Segments()
	if err != nil {
		return nil, err
	}
	var out []SealedSegment
	for i := 0; i+1 < len(segs); i++ {
		s, _, err := l.sealedSegment(ctx, segs[i], segs[i+1], nil)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ReadSegment returns the content of the segment named name (a
// SegmentInfo.Name of r).
func (r *FileReader) ReadSegment(name string) ([]byte, error) {
	if _, ok := parseSegmentName(name); !ok {
		return nil, fmt.Errorf("audit: %q is not a segment name", name)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		return nil, fmt.Errorf("audit: read segment %s: %w", name, durable.WithoutPath(err))
	}
	return b, nil
}

// WithTreeStore calls fn with the log's stored Merkle tree hashes, read
// only (ErrNoTree when the log has none).
func (p *FileProver) WithTreeStore(fn func(TreeStore) error) error { return p.withTree(fn) }
