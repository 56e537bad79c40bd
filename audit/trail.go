package audit

import (
	"context"
	"io"
)

// Trail is a whole audit trail: it records events (Writer), answers
// searches (Searcher, in chain order too for exports), verifies its chain
// and checkpoints, and exports. The file log (NewFileTrail) and the
// PostgreSQL trail (pgaudit.NewTrail) implement it, so that code written
// against a Trail runs on either.
type Trail interface {
	ChainSearcher
	Writer
	// Verify checks the trail's hash chain and signed checkpoints.
	Verify(ctx context.Context, opts VerifyOptions) (Result, error)
	// Export writes the records that match f to w in format (see Export).
	Export(ctx context.Context, w io.Writer, f Filter, format ExportFormat) (int64, error)
}

// NewFileTrail returns the Trail of the file log l: search is a scan of
// its records (FileSearcher). The trail is usable until l is closed.
func NewFileTrail(l *FileLog) Trail {
	return fileTrail{FileLog: l, ChainSearcher: FileSearcher(l.Reader())}
}

type fileTrail struct {
	*FileLog
	ChainSearcher
}

func (t fileTrail) Verify(ctx context.Context, opts VerifyOptions) (Result, error) {
	return t.Reader().Verify(ctx, opts)
}

func (t fileTrail) Export(ctx context.Context, w io.Writer, f Filter, format ExportFormat) (int64, error) {
	return Export(ctx, w, t, f, format)
}

// SearcherTrail completes a Writer and a ChainSearcher that can verify into
// a Trail (as pgaudit.NewTrail does for the PostgreSQL writer and store).
func SearcherTrail(w Writer, s interface {
	ChainSearcher
	Verify(ctx context.Context, opts VerifyOptions) (Result, error)
}) Trail {
	return searcherTrail{Writer: w, verifier: s}
}

type verifier interface {
	ChainSearcher
	Verify(ctx context.Context, opts VerifyOptions) (Result, error)
}

type searcherTrail struct {
	Writer
	verifier
}

func (t searcherTrail) Export(ctx context.Context, w io.Writer, f Filter, format ExportFormat) (int64, error) {
	return Export(ctx, w, t, f, format)
}
