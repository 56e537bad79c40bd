package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/signing"
)

// ErrMalformedProof reports bytes that are not an inclusion proof
// (FORMAT.md, "Inclusion proof").
var ErrMalformedProof = errors.New("audit: malformed inclusion proof")

// proofHeader is the first line of an inclusion proof file.
const proofHeader = "hipaakit audit inclusion proof v1"

// maxProofPath bounds a proof's path: a tree of at most 2^53 leaves.
const maxProofPath = 64

// InclusionProof shows that one record is in a stream's log: the record,
// its leaf hash, the RFC 6962 audit path to the root, and the signed
// format-v2 checkpoint carrying that root. It verifies offline with only
// the log's public keys (VerifyInclusionProof).
type InclusionProof struct {
	Record     Record
	Leaf       Hash
	Path       []Hash
	Checkpoint TreeCheckpoint

	line []byte // the record's line as parsed, set by ParseInclusionProof
}

// ProveInclusion proves that rec (a record of the stream) is among the
// first cp.Size records of the tree in s. It fails with
// *StreamMismatchError for a record of another stream, ErrTreeMismatch when
// rec is past cp.Size or the stored hashes do not lead to cp.Root (the
// record or the store is not the log's), and ErrNoTree when s lacks the
// hashes.
func ProveInclusion(ctx context.Context, s TreeStore, rec Record, cp TreeCheckpoint) (InclusionProof, error) {
	if rec.Stream != cp.Stream {
		return InclusionProof{}, &StreamMismatchError{Want: cp.Stream, Got: rec.Stream}
	}
	if rec.Seq == 0 || rec.Seq > cp.Size {
		return InclusionProof{}, fmt.Errorf("%w: record %d is not covered by a checkpoint of size %d", ErrTreeMismatch, rec.Seq, cp.Size)
	}
	line, err := rec.Marshal()
	if err != nil {
		return InclusionProof{}, err
	}
	leaf := LeafHash(line)
	p, err := tlog.ProveRecord(int64(cp.Size), int64(rec.Seq-1), hashReader(ctx, s))
	if err != nil {
		return InclusionProof{}, treeErr(err)
	}
	if tlog.CheckRecord(p, int64(cp.Size), tlog.Hash(cp.Root), int64(rec.Seq-1), tlog.Hash(leaf)) != nil {
		return InclusionProof{}, fmt.Errorf("%w: record %d does not lead to the checkpoint's root", ErrTreeMismatch, rec.Seq)
	}
	path := make([]Hash, len(p))
	for i, h := range p {
		path[i] = Hash(h)
	}
	return InclusionProof{Record: rec, Leaf: leaf, Path: path, Checkpoint: cp}, nil
}

// Marshal returns the proof's self-contained text form: a header, the
// record, its leaf, its path, an empty line and the signed checkpoint note.
func (p *InclusionProof) Marshal() ([]byte, error) {
	line, err := p.Record.Marshal()
	if err != nil {
		return nil, err
	}
	if len(p.Checkpoint.Note) == 0 {
		return nil, &FieldError{Field: "checkpoint", Reason: "is not signed"}
	}
	var b bytes.Buffer
	b.WriteString(proofHeader + "\nindex ")
	b.WriteString(strconv.FormatUint(p.Record.Seq-1, 10))
	b.WriteString("\nrecord ")
	b.WriteString(base64.StdEncoding.EncodeToString(line))
	b.WriteString("\nleaf ")
	b.WriteString(base64.StdEncoding.EncodeToString(p.Leaf[:]))
	for _, h := range p.Path {
		b.WriteString("\npath ")
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
	}
	b.WriteString("\n\n")
	b.Write(p.Checkpoint.Note)
	return b.Bytes(), nil
}

// ParseInclusionProof parses a proof's text form without verifying it.
func ParseInclusionProof(data []byte) (InclusionProof, error) {
	var p InclusionProof
	if len(data) > MaxLineSize*2+maxNoteSize {
		return p, ErrMalformedProof
	}
	i := bytes.Index(data, []byte("\n\n"))
	if i < 0 {
		return p, ErrMalformedProof
	}
	lines := strings.Split(string(data[:i]), "\n")
	p.Checkpoint.Note = data[i+2:]
	if len(lines) < 4 || len(lines) > 4+maxProofPath || lines[0] != proofHeader {
		return p, ErrMalformedProof
	}
	index, ok := strings.CutPrefix(lines[1], "index ")
	if !ok {
		return p, ErrMalformedProof
	}
	idx, err := strconv.ParseUint(index, 10, 64)
	if err != nil || idx >= MaxSeq || strconv.FormatUint(idx, 10) != index {
		return p, ErrMalformedProof
	}
	rec, ok := strings.CutPrefix(lines[2], "record ")
	if !ok {
		return p, ErrMalformedProof
	}
	line, err := base64.StdEncoding.Strict().DecodeString(rec)
	if err != nil {
		return p, ErrMalformedProof
	}
	p.line = line
	if p.Record, err = ParseRecord(line); err != nil {
		return p, fmt.Errorf("%w: record: %w", ErrMalformedProof, err)
	}
	if p.Record.Seq != idx+1 {
		return p, fmt.Errorf("%w: index does not match the record", ErrMalformedProof)
	}
	if p.Leaf, ok = proofHash(lines[3], "leaf "); !ok {
		return p, ErrMalformedProof
	}
	for _, l := range lines[4:] {
		h, ok := proofHash(l, "path ")
		if !ok {
			return p, ErrMalformedProof
		}
		p.Path = append(p.Path, h)
	}
	return p, nil
}

func proofHash(line, prefix string) (Hash, bool) {
	s, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return Hash{}, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(Hash{}) {
		return Hash{}, false
	}
	return Hash(b), true
}

// VerifyInclusionProof checks a proof's text form offline: the checkpoint
// must be signed by one of keys (ErrBadSignature), be of stream when stream
// is not empty (*StreamMismatchError), the leaf must be the record's, the
// record's hash its content's, and the path must lead from the leaf to the
// signed root (ErrTreeMismatch). It returns the verified proof. To verify
// many proofs with the same keys, use a ProofVerifier.
func VerifyInclusionProof(data []byte, keys signing.KeySet, stream string) (InclusionProof, error) {
	return NewProofVerifier(keys).Inclusion(data, stream)
}

// ProveConsistency returns the RFC 6962 consistency proof that the tree of
// newer extends the tree of older, from the hashes in s, and checks it. An
// older with a zero Root stands for a size only (the size a witness asked
// for): the proof is returned unchecked, for its receiver to check.
func ProveConsistency(ctx context.Context, s TreeStore, older, newer TreeCheckpoint) ([]Hash, error) {
	if older.Stream != newer.Stream {
		return nil, &StreamMismatchError{Want: older.Stream, Got: newer.Stream}
	}
	if older.Size > newer.Size {
		return nil, fmt.Errorf("%w: size %d is past %d", ErrNotExtended, older.Size, newer.Size)
	}
	p, err := tlog.ProveTree(int64(newer.Size), int64(older.Size), hashReader(ctx, s))
	if err != nil {
		return nil, treeErr(err)
	}
	out := make([]Hash, len(p))
	for i, h := range p {
		out[i] = Hash(h)
	}
	if older.Root.IsZero() {
		return out, nil
	}
	return out, VerifyConsistency(older, newer, out)
}

// VerifyConsistency checks proof, a consistency proof between two
// checkpoints of one stream (both already verified with
// ParseTreeCheckpoint). It fails with ErrNotExtended when newer's tree does
// not extend older's.
func VerifyConsistency(older, newer TreeCheckpoint, proof []Hash) error {
	if older.Stream != newer.Stream {
		return &StreamMismatchError{Want: older.Stream, Got: newer.Stream}
	}
	if older.Size > newer.Size {
		return fmt.Errorf("%w: size %d is past %d", ErrNotExtended, older.Size, newer.Size)
	}
	if older.Size == newer.Size {
		if older.Root != newer.Root || older.Head != newer.Head {
			return fmt.Errorf("%w: two roots for size %d", ErrNotExtended, older.Size)
		}
		return nil
	}
	if len(proof) > maxProofPath*2 {
		return fmt.Errorf("%w: consistency proof too long", ErrNotExtended)
	}
	p := make(tlog.TreeProof, len(proof))
	for i, h := range proof {
		p[i] = tlog.Hash(h)
	}
	if older.Size == 0 {
		if older.Root != emptyRoot {
			return fmt.Errorf("%w: size 0 with a non-empty root", ErrNotExtended)
		}
		return nil
	}
	if tlog.CheckTree(p, int64(newer.Size), tlog.Hash(newer.Root), int64(older.Size), tlog.Hash(older.Root)) != nil {
		return fmt.Errorf("%w: size %d does not extend size %d", ErrNotExtended, newer.Size, older.Size)
	}
	return nil
}
