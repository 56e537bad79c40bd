package witness

import (
	"context"
	"errors"

	"github.com/hipaakit/hipaakit/audit"
)

// Adder is what Publish sends checkpoints to: Client over HTTP, or a
// Witness in the same process.
type Adder interface {
	AddCheckpoint(ctx context.Context, oldSize uint64, proof []audit.Hash, note []byte) ([]byte, error)
}

// Publish sends the log's newest checkpoint to each witness, with a
// consistency proof from the size that witness last cosigned (learnt from
// its 409 answer), and returns the checkpoint note with every cosignature
// obtained appended, and the errors of the witnesses that refused, joined.
// Verify the result with VerifyCosignatures (K of N).
func Publish(ctx context.Context, p audit.Prover, witnesses ...Adder) ([]byte, error) {
	cp, err := p.TreeCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	note := append([]byte(nil), cp.Note...)
	var errs []error
	for _, w := range witnesses {
		line, err := w.AddCheckpoint(ctx, 0, nil, cp.Note)
		var ce *ConflictError
		if errors.As(err, &ce) {
			var proof []audit.Hash
			proof, err = p.ProveConsistency(ctx, audit.TreeCheckpoint{Stream: cp.Stream, Size: ce.Size}, cp)
			if err == nil {
				line, err = w.AddCheckpoint(ctx, ce.Size, proof, cp.Note)
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		note = append(note, line...)
	}
	return note, errors.Join(errs...)
}
