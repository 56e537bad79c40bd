package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Merkle tree errors.
var (
	// ErrNoTree reports a stream without a Merkle tree: a v1 log whose
	// oldest records were purged before the tree existed, so it cannot be
	// rebuilt, or a store that keeps none.
	ErrNoTree = errors.New("audit: stream has no Merkle tree")
	// ErrTreeMismatch reports stored tree hashes, a root or a proof that do
	// not match the records or the signed checkpoint.
	ErrTreeMismatch = errors.New("audit: Merkle tree does not match")
	// ErrNotExtended reports a log that does not extend a checkpoint kept
	// from it: it is shorter than the checkpoint (cut or rewound), or its
	// tree at the checkpoint's size has another root (rewritten).
	ErrNotExtended = errors.New("audit: log does not extend the checkpoint")
)

// LeafHash returns the Merkle tree leaf of a record: the RFC 6962 leaf hash
// SHA-256(0x00 || line) of the record's canonical line without its newline
// (FORMAT.md, "Merkle tree"). Record seq N is leaf N-1.
func LeafHash(recordLine []byte) Hash {
	return Hash(tlog.RecordHash(trimNewline(recordLine)))
}

// TreeStore reads a stream's stored Merkle tree hashes: the stored hashes of
// golang.org/x/mod/sumdb/tlog (every complete subtree, indexed by
// tlog.StoredHashIndex). FileLog.Tree and pgaudit's tree store implement
// it; ReadHashes returns the hashes in the order of indexes and fails with
// ErrNoTree for an index it does not hold.
type TreeStore interface {
	ReadHashes(ctx context.Context, indexes []int64) ([]Hash, error)
}

// hashReader adapts a TreeStore to tlog.HashReader.
func hashReader(ctx context.Context, s TreeStore) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs, err := s.ReadHashes(ctx, idx)
		if err != nil {
			return nil, err
		}
		if len(hs) != len(idx) {
			return nil, fmt.Errorf("%w: store returned %d hashes for %d indexes", ErrTreeMismatch, len(hs), len(idx))
		}
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = tlog.Hash(h)
		}
		return out, nil
	})
}

// emptyRoot is the RFC 6962 root of an empty tree: SHA-256 of nothing.
var emptyRoot = Hash(sha256.Sum256(nil))

// Frontier is the right edge of a Merkle tree: the roots of its complete
// subtrees, at most 64 hashes. It appends leaves in O(log n) without
// reading the stored hashes, and returns the stored hashes each leaf adds,
// in tlog's order, for the writer to persist.
type Frontier struct {
	size  int64
	nodes []Hash // nodes[i] is the root of the i-th complete subtree, largest first
}

// Size returns the number of leaves.
func (f *Frontier) Size() int64 { return f.size }

// LoadFrontier reads the frontier of the tree of size n from s.
func LoadFrontier(ctx context.Context, s TreeStore, n int64) (*Frontier, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: negative tree size", ErrTreeMismatch)
	}
	var idx []int64
	start := int64(0)
	for l := 63; l >= 0; l-- {
		if n&(1<<l) == 0 {
			continue
		}
		idx = append(idx, tlog.StoredHashIndex(l, start>>l))
		start += 1 << l
	}
	f := &Frontier{size: n}
	if len(idx) == 0 {
		return f, nil
	}
	hs, err := s.ReadHashes(ctx, idx)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(idx) {
		return nil, fmt.Errorf("%w: store returned %d hashes for %d indexes", ErrTreeMismatch, len(hs), len(idx))
	}
	f.nodes = hs
	return f, nil
}

// Append adds leaf and appends to dst the stored hashes it completes (the
// leaf first, then each parent), which are stored at indexes
// tlog.StoredHashCount(n) onwards, n being the size before the call.
func (f *Frontier) Append(dst []Hash, leaf Hash) []Hash {
	dst = append(dst, leaf)
	h := leaf
	for l := 0; f.size&(1<<l) != 0; l++ {
		left := f.nodes[len(f.nodes)-1]
		f.nodes = f.nodes[:len(f.nodes)-1]
		h = Hash(tlog.NodeHash(tlog.Hash(left), tlog.Hash(h)))
		dst = append(dst, h)
	}
	f.nodes = append(f.nodes, h)
	f.size++
	return dst
}

// Root returns the RFC 6962 root hash of the tree (SHA-256 of the empty
// string for an empty tree).
func (f *Frontier) Root() Hash {
	if len(f.nodes) == 0 {
		return emptyRoot
	}
	h := f.nodes[len(f.nodes)-1]
	for i := len(f.nodes) - 2; i >= 0; i-- {
		h = Hash(tlog.NodeHash(tlog.Hash(f.nodes[i]), tlog.Hash(h)))
	}
	return h
}

// Clone returns an independent copy of f.
func (f *Frontier) Clone() *Frontier {
	return &Frontier{size: f.size, nodes: append([]Hash(nil), f.nodes...)}
}

// TreeRoot returns the root of the first n leaves of the tree in s.
func TreeRoot(ctx context.Context, s TreeStore, n int64) (Hash, error) {
	if n == 0 {
		return emptyRoot, nil
	}
	h, err := tlog.TreeHash(n, hashReader(ctx, s))
	if err != nil {
		return Hash{}, treeErr(err)
	}
	return Hash(h), nil
}

// treeErr keeps ErrNoTree and context errors and classifies the rest.
func treeErr(err error) error {
	if errors.Is(err, ErrNoTree) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTreeMismatch) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrTreeMismatch, err)
}

// MemoryTree is a TreeStore in memory, for tests, benchmarks and building a
// tree from records (for example to check a log against a checkpoint).
type MemoryTree struct {
	hashes []Hash
	front  Frontier
}

// AppendLeaf adds a leaf.
func (m *MemoryTree) AppendLeaf(leaf Hash) { m.hashes = m.front.Append(m.hashes, leaf) }

// Size returns the number of leaves.
func (m *MemoryTree) Size() int64 { return m.front.size }

// Root returns the root of the whole tree.
func (m *MemoryTree) Root() Hash { return m.front.Root() }

// ReadHashes implements TreeStore.
func (m *MemoryTree) ReadHashes(_ context.Context, idx []int64) ([]Hash, error) {
	out := make([]Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("%w: hash %d not stored", ErrNoTree, x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}
