package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/durable"
)

// ErrNoCosigned reports a stream without a stored cosigned checkpoint.
var ErrNoCosigned = errors.New("witness: no cosigned checkpoint stored")

// Store keeps a log's checkpoints with the witness cosignatures collected
// for them. FileStore keeps a file log's; pgaudit.CosignatureStore keeps
// them in PostgreSQL beside the checkpoints, safe with several writers.
type Store interface {
	// SaveCosigned stores note, a stream's format-v2 checkpoint of size
	// with cosignature lines appended, keeping the cosignatures already
	// stored for the same checkpoint.
	SaveCosigned(ctx context.Context, stream string, size uint64, note []byte) error
	// LatestCosigned returns the stream's newest stored checkpoint with its
	// cosignatures (ErrNoCosigned when there is none).
	LatestCosigned(ctx context.Context, stream string) ([]byte, error)
}

// FileStore is a Store in one file holding the newest cosigned checkpoint
// of one stream (replaced atomically), for the file log: the file sits
// beside the log's checkpoint.note. It is safe for concurrent use within
// one process (the file log's own).
type FileStore struct {
	Path string

	mu sync.Mutex
}

var _ Store = (*FileStore)(nil)

// SaveCosigned implements Store: a note for an older size than the stored
// one is ignored, one for the same checkpoint merges its cosignatures.
func (s *FileStore) SaveCosigned(_ context.Context, stream string, size uint64, note []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, sigs, err := splitNote(note)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(s.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("witness: read cosigned checkpoint: %w", durable.WithoutPath(err))
	default:
		ob, osigs, perr := splitNote(old)
		if perr == nil {
			if bytes.Equal(ob, body) {
				sigs = mergeLines(osigs, sigs)
			} else if c, err := parseBodySize(ob, stream); err == nil && c >= size {
				return nil // a newer (or another) checkpoint is stored
			}
		}
	}
	if err := durable.WriteFileAtomic(s.Path, joinNote(body, sigs), 0o600); err != nil {
		return fmt.Errorf("witness: write cosigned checkpoint: %w", durable.WithoutPath(err))
	}
	return nil
}

// LatestCosigned implements Store.
func (s *FileStore) LatestCosigned(_ context.Context, stream string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoCosigned
	}
	if err != nil {
		return nil, fmt.Errorf("witness: read cosigned checkpoint: %w", durable.WithoutPath(err))
	}
	body, _, err := splitNote(b)
	if err != nil {
		return nil, err
	}
	if _, err := parseBodySize(body, stream); err != nil {
		return nil, err
	}
	return b, nil
}

// parseBodySize returns the size of a checkpoint body of stream.
func parseBodySize(body []byte, stream string) (uint64, error) {
	lines := bytes.SplitN(body, []byte("\n"), 3)
	if len(lines) < 3 || string(lines[0]) != audit.TreeOrigin(stream) {
		return 0, fmt.Errorf("%w: not a checkpoint of stream %s", ErrMalformed, stream)
	}
	var n uint64
	for _, c := range lines[1] {
		if c < '0' || c > '9' || n > (1<<63)/10 {
			return 0, ErrMalformed
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// mergeLines returns a's lines followed by those of b not in a.
func mergeLines(a, b []string) []string {
	seen := make(map[string]bool, len(a))
	out := append([]string(nil), a...)
	for _, l := range a {
		seen[l] = true
	}
	for _, l := range b {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}
