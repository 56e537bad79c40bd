package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// benchLeaves is the tree size of the proof benchmarks: 10 million events.
const benchLeaves = 10_000_000

// syntheticTree is a tree of benchLeaves leaves held in memory for the
// benchmarks: leaf i is SHA-256 of i, and the stored hashes of subtrees of
// 8 leaves and more are kept (80 MB); smaller ones are recomputed when read
// (at most 15 SHA-256 per hash), so the proof figures include that work.
type syntheticTree struct {
	n          int64
	levels     [][]Hash // levels[l] for l >= keepLevel
	override   Hash     // leaf overrideAt, when set
	overrideAt int64
}

const keepLevel = 3

func synthLeaf(i int64) Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return Hash(tlog.RecordHash(b[:]))
}

func (t *syntheticTree) node(level int, k int64) Hash {
	if level >= keepLevel {
		return t.levels[level][k]
	}
	if level == 0 {
		if k == t.overrideAt && !t.override.IsZero() {
			return t.override
		}
		return synthLeaf(k)
	}
	return Hash(tlog.NodeHash(tlog.Hash(t.node(level-1, 2*k)), tlog.Hash(t.node(level-1, 2*k+1))))
}

func (t *syntheticTree) ReadHashes(_ context.Context, idx []int64) ([]Hash, error) {
	out := make([]Hash, len(idx))
	for i, x := range idx {
		l, k := tlog.SplitStoredHashIndex(x)
		out[i] = t.node(l, k)
	}
	return out, nil
}

var (
	synthOnce sync.Once
	synth     *syntheticTree
)

func benchTree() *syntheticTree {
	synthOnce.Do(func() {
		t := &syntheticTree{n: benchLeaves, levels: make([][]Hash, 64), overrideAt: -1}
		full := int64(benchLeaves) >> keepLevel
		t.levels[keepLevel] = make([]Hash, full)
		for k := range full {
			t.levels[keepLevel][k] = Hash(tlog.NodeHash(tlog.Hash(t.node(keepLevel-1, 2*k)), tlog.Hash(t.node(keepLevel-1, 2*k+1))))
		}
		for l := keepLevel + 1; len(t.levels[l-1]) > 1; l++ {
			prev := t.levels[l-1]
			t.levels[l] = make([]Hash, len(prev)/2)
			for k := range t.levels[l] {
				t.levels[l][k] = Hash(tlog.NodeHash(tlog.Hash(prev[2*k]), tlog.Hash(prev[2*k+1])))
			}
		}
		synth = t
	})
	return synth
}

// setLeaf makes leaf i h and updates the kept subtrees above it.
func (t *syntheticTree) setLeaf(i int64, h Hash) {
	t.override, t.overrideAt = h, i
	for l := keepLevel; l < len(t.levels) && int64(len(t.levels[l])) > i>>l; l++ {
		k := i >> l
		t.levels[l][k] = Hash(tlog.NodeHash(tlog.Hash(t.node(l-1, 2*k)), tlog.Hash(t.node(l-1, 2*k+1))))
	}
}

// BenchmarkProof measures inclusion proofs against a tree of 10 million
// leaves. Targets: generation < 1 ms, verification < 100 µs, and
// verification at most 1.5 times baseline-ed25519.
//
//   - prove: ProveInclusion of one record (record encoding, leaf hash,
//     reading the path, and checking it against the root).
//   - verify: VerifyInclusionProof of the proof file offline, from nothing
//     (parsing, the signed-note verifier of the key, the ed25519 signed
//     note, the record's hash, leaf and path).
//   - verify-reused: the same proof file again and again through one
//     ProofVerifier, which costs what proofs of other records against the
//     same checkpoint cost (an auditor checking many events): the note's
//     signature is checked once, the record, leaf and path every time.
//   - verify-path: the path check alone (tlog.CheckRecord).
//   - baseline-ed25519: in the same run, one raw ed25519.Verify of the
//     note's signed text plus baseline-sha256, the least any offline check
//     of a signed proof computes.
//   - baseline-sha256: raw SHA-256 of the same leaf and one 65-byte
//     SHA-256 per path element, the least any check of the path computes.
func BenchmarkProof(b *testing.B) {
	ctx := context.Background()
	t := benchTree()
	c, _ := NewChain(ChainConfig{Stream: "bench", Seq: 7_654_320})
	e := sampleEvent(1)
	e.Time = testTime
	rec, _ := c.Next(e)
	line, _ := rec.Marshal()
	leafIdx := int64(rec.Seq - 1)
	t.setLeaf(leafIdx, LeafHash(line))
	root, err := TreeRoot(ctx, t, t.n)
	if err != nil {
		b.Fatal(err)
	}
	cp := TreeCheckpoint{Stream: "bench", Size: uint64(t.n), Root: root, Time: testTime}
	if err := SignTreeCheckpoint(&cp, testKey(b)); err != nil {
		b.Fatal(err)
	}
	proof, err := ProveInclusion(ctx, t, rec, cp)
	if err != nil {
		b.Fatal(err)
	}
	data, _ := proof.Marshal()
	keys := testKeySet(b)
	b.Run("prove", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ProveInclusion(ctx, t, rec, cp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := VerifyInclusionProof(data, keys, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify-reused", func(b *testing.B) {
		b.ReportAllocs()
		v := NewProofVerifier(keys)
		for b.Loop() {
			if _, err := v.Inclusion(data, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	p := make(tlog.RecordProof, len(proof.Path))
	for i, h := range proof.Path {
		p[i] = tlog.Hash(h)
	}
	b.Run("verify-path", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if tlog.CheckRecord(p, t.n, tlog.Hash(root), leafIdx, tlog.Hash(proof.Leaf)) != nil {
				b.Fatal("path does not verify")
			}
		}
	})
	pathSHA := func() {
		buf := make([]byte, 65)
		s := sha256.Sum256(line)
		for range p {
			copy(buf[1:], s[:])
			s = sha256.Sum256(buf[:])
		}
	}
	body, sig := noteSignature(b, cp.Note)
	pub := testKey(b).Public().(ed25519.PublicKey)
	b.Run("baseline-ed25519", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(pub, body, sig) {
				b.Fatal("signature does not verify")
			}
			pathSHA()
		}
	})
	b.Run("baseline-sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pathSHA()
		}
	})
}

// noteSignature returns the text a signed note's first signature covers
// and its ed25519 signature (after the 4-byte key hash).
func noteSignature(b *testing.B, msg []byte) (body, sig []byte) {
	i := bytes.Index(msg, []byte("\n\n"))
	line := msg[i+2:]
	line = line[:bytes.IndexByte(line, '\n')]
	f := strings.Fields(string(line))
	raw, err := base64.StdEncoding.DecodeString(f[len(f)-1])
	if err != nil || len(raw) != 4+ed25519.SignatureSize {
		b.Fatal("malformed note signature")
	}
	return msg[:i+1], raw[4:]
}
