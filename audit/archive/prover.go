package archive

import (
	"context"
	"errors"
	"fmt"

	"github.com/hipaakit/hipaakit/audit"
)

// Prover returns the audit.Prover of stream's archive: proofs from the
// archived tiles and checkpoints alone, for a range the log itself may no
// longer hold.
func (a *Archive) Prover(stream string) audit.Prover { return &prover{a: a, stream: stream} }

type prover struct {
	a      *Archive
	stream string
}

// TreeCheckpoint returns the newest archived checkpoint.
func (p *prover) TreeCheckpoint(ctx context.Context) (audit.TreeCheckpoint, error) {
	_, cp, err := p.a.newest(ctx, p.stream)
	return cp, err
}

// ProveInclusion proves archived record seq against the newest archived
// checkpoint.
func (p *prover) ProveInclusion(ctx context.Context, seq uint64) (audit.InclusionProof, error) {
	units, cp, err := p.a.newest(ctx, p.stream)
	if err != nil {
		return audit.InclusionProof{}, err
	}
	var unit []Unit
	for _, u := range units {
		if u.First <= seq && seq <= u.Last {
			unit = []Unit{u}
		}
	}
	if unit == nil {
		return audit.InclusionProof{}, fmt.Errorf("%w: stream %s: record %d is not archived", audit.ErrNoTree, p.stream, seq)
	}
	store := newTileStore(ctx, p.a.cfg.Target, streamDir(p.stream), cp)
	for r, err := range p.a.records(ctx, unit, store, seq) {
		if err != nil {
			return audit.InclusionProof{}, err
		}
		return audit.ProveInclusion(ctx, store, r, cp)
	}
	return audit.InclusionProof{}, fmt.Errorf("%w: stream %s: record %d is not archived", audit.ErrNoTree, p.stream, seq)
}

// ProveConsistency proves from the archived tiles that newer's tree
// extends older's; newer may not be past the newest archived checkpoint.
func (p *prover) ProveConsistency(ctx context.Context, older, newer audit.TreeCheckpoint) ([]audit.Hash, error) {
	_, cp, err := p.a.newest(ctx, p.stream)
	if err != nil {
		return nil, err
	}
	if newer.Size > cp.Size {
		return nil, fmt.Errorf("%w: stream %s: the archive ends at %d, before %d", audit.ErrNoTree, p.stream, cp.Size, newer.Size)
	}
	return audit.ProveConsistency(ctx, newTileStore(ctx, p.a.cfg.Target, streamDir(p.stream), cp), older, newer)
}

// VerifySince verifies the archive (Verify) and that it extends kept.
func (p *prover) VerifySince(ctx context.Context, kept ...audit.TreeCheckpoint) (audit.TreeCheckpoint, error) {
	res, err := p.a.verify(ctx, p.stream, kept...)
	if errors.Is(err, audit.ErrNotExtended) && len(kept) == 0 {
		err = fmt.Errorf("%w: %w", audit.ErrTreeMismatch, err)
	}
	return res.Checkpoint, err
}
