package audit

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/signing"
)

// maxVerifiedNotes bounds the checkpoint notes a ProofVerifier remembers.
const maxVerifiedNotes = 256

// ProofVerifier verifies format-v2 checkpoint notes and inclusion proofs
// offline against fixed trusted keys. It builds the signed-note verifiers
// of a stream once, and remembers the notes whose log signature it has
// verified (by SHA-256 of the whole note, at most 256), so that many proofs
// against one checkpoint pay for the ed25519 check once. Its answers are
// those of ParseTreeCheckpoint and VerifyInclusionProof. It is safe for
// concurrent use.
type ProofVerifier struct {
	keys signing.KeySet

	mu        sync.Mutex
	verifiers map[string]note.Verifiers   // by stream
	verified  map[[32]byte]TreeCheckpoint // by SHA-256 of the note, Note unset
}

// NewProofVerifier returns a verifier trusting checkpoints signed by keys.
func NewProofVerifier(keys signing.KeySet) *ProofVerifier {
	return &ProofVerifier{keys: keys, verifiers: map[string]note.Verifiers{}, verified: map[[32]byte]TreeCheckpoint{}}
}

func (v *ProofVerifier) streamVerifiers(stream string) (note.Verifiers, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if vs, ok := v.verifiers[stream]; ok {
		return vs, nil
	}
	vs, err := streamVerifiers(v.keys, stream)
	if err != nil {
		return nil, err
	}
	if len(v.verifiers) >= maxVerifiedNotes {
		clear(v.verifiers)
	}
	v.verifiers[stream] = vs
	return vs, nil
}

// Checkpoint is ParseTreeCheckpoint with the verifier's keys.
func (v *ProofVerifier) Checkpoint(msg []byte, want string) (TreeCheckpoint, error) {
	if len(msg) > maxNoteSize {
		return TreeCheckpoint{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedNote, maxNoteSize)
	}
	sum := sha256.Sum256(msg)
	v.mu.Lock()
	c, ok := v.verified[sum]
	v.mu.Unlock()
	if ok {
		if want != "" && c.Stream != want {
			return TreeCheckpoint{}, &StreamMismatchError{Want: want, Got: c.Stream}
		}
		c.Note = append([]byte(nil), msg...)
		return c, nil
	}
	c, err := openTreeCheckpoint(msg, want, v.streamVerifiers)
	if err != nil {
		return TreeCheckpoint{}, err
	}
	v.mu.Lock()
	if len(v.verified) >= maxVerifiedNotes {
		clear(v.verified)
	}
	kept := c
	kept.Note = nil
	v.verified[sum] = kept
	v.mu.Unlock()
	return c, nil
}

// Inclusion is VerifyInclusionProof with the verifier's keys.
func (v *ProofVerifier) Inclusion(data []byte, stream string) (InclusionProof, error) {
	p, err := ParseInclusionProof(data)
	if err != nil {
		return InclusionProof{}, err
	}
	cp, err := v.Checkpoint(p.Checkpoint.Note, stream)
	if err != nil {
		return InclusionProof{}, err
	}
	p.Checkpoint = cp
	if p.Record.Stream != cp.Stream {
		return InclusionProof{}, &StreamMismatchError{Want: cp.Stream, Got: p.Record.Stream}
	}
	// The leaf is of the line as given: a line that is not the logged one
	// byte for byte has another leaf and is refused below.
	if LeafHash(p.line) != p.Leaf {
		return InclusionProof{}, fmt.Errorf("%w: leaf is not the record's", ErrTreeMismatch)
	}
	if h, err := p.Record.ComputeHash(); err != nil || h != p.Record.Hash {
		return InclusionProof{}, fmt.Errorf("%w: record hash is not its content's", ErrChainBroken)
	}
	if p.Record.Seq > cp.Size || (p.Record.Seq == cp.Size && p.Record.Hash != cp.Head) {
		return InclusionProof{}, fmt.Errorf("%w: record %d is not covered by the checkpoint", ErrTreeMismatch, p.Record.Seq)
	}
	var buf [maxProofPath]tlog.Hash
	path := buf[:len(p.Path)]
	for i, h := range p.Path {
		path[i] = tlog.Hash(h)
	}
	if tlog.CheckRecord(path, int64(cp.Size), tlog.Hash(cp.Root), int64(p.Record.Seq-1), tlog.Hash(p.Leaf)) != nil {
		return InclusionProof{}, fmt.Errorf("%w: path does not lead to the signed root", ErrTreeMismatch)
	}
	return p, nil
}
