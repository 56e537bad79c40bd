package archive

import (
	"context"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

// Source is a log whose sealed ranges Archive stores: FileSource for a
// file log (its sealed segments), pgaudit.ArchiveSource for a PostgreSQL
// stream (its records month by month, cut at signed checkpoints).
type Source interface {
	// Prover returns the stream's prover trusting keys.
	Prover(keys signing.KeySet) audit.Prover
	// WithTreeStore calls fn with the stream's stored tree hashes.
	WithTreeStore(ctx context.Context, fn func(audit.TreeStore) error) error
	// Sealed lists the ranges no longer written, oldest first, each with
	// the time of a signed checkpoint made after its last record.
	Sealed(ctx context.Context, keys signing.KeySet) ([]audit.SealedSegment, error)
	// Read returns a range's bytes: the JSON lines of its records in order
	// with the v1 checkpoints among them, starting, after the first range,
	// with a signed checkpoint of the record before it.
	Read(ctx context.Context, s audit.SealedSegment) ([]byte, error)
}

// FileLog is what FileSource reads of an open *audit.FileLog (or of the
// audit.Trail of one, audit.NewFileTrail).
type FileLog interface {
	Reader() *audit.FileReader
	SealedSegments(ctx context.Context) ([]audit.SealedSegment, error)
}

var _ FileLog = (*audit.FileLog)(nil)

// FileSource is the Source of a file log: its sealed segments, byte for
// byte.
func FileSource(l FileLog) Source { return fileSource{l} }

type fileSource struct{ l FileLog }

func (f fileSource) Prover(keys signing.KeySet) audit.Prover { return f.l.Reader().Prover(keys) }

func (f fileSource) WithTreeStore(_ context.Context, fn func(audit.TreeStore) error) error {
	// the log's own keys are not needed to read stored hashes
	return f.l.Reader().Prover(signing.KeySet{}).WithTreeStore(fn)
}

func (f fileSource) Sealed(ctx context.Context, _ signing.KeySet) ([]audit.SealedSegment, error) {
	return f.l.SealedSegments(ctx)
}

func (f fileSource) Read(_ context.Context, s audit.SealedSegment) ([]byte, error) {
	return f.l.Reader().ReadSegment(s.Name)
}
