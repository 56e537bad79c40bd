package backup

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/bits"

	"github.com/restic/chunker"
)

// Chunk sizes.
const (
	// DefaultChunkSize is the average chunk size of content-defined chunking
	// in a new repository (format version 2).
	DefaultChunkSize = 1 << 20
	// MinChunkSize is the smallest average chunk size of a new repository,
	// and the smallest fixed chunk size of a version-1 repository.
	MinChunkSize = 64 << 10
	// MaxAverageChunkSize is the largest average chunk size of a new
	// repository.
	MaxAverageChunkSize = 16 << 20
	// MaxChunkSize bounds every chunk of every format version.
	MaxChunkSize = 64 << 20
)

// cdc holds the parameters of content-defined chunking for one average
// size: chunks are at least avg/2 and at most 4×avg bytes, and after the
// minimum a cut falls with probability 2/avg per byte, so chunks average
// avg bytes.
type cdc struct {
	avg, min, max int
	bits          int
}

// validAverage reports whether avg is a power of two in
// [MinChunkSize, MaxAverageChunkSize].
func validAverage(avg int) bool {
	return avg >= MinChunkSize && avg <= MaxAverageChunkSize && avg&(avg-1) == 0
}

func newCDC(avg int) cdc {
	return cdc{avg: avg, min: avg / 2, max: 4 * avg, bits: bits.Len(uint(avg)) - 2}
}

// cdcForMax returns the chunking whose largest chunk is max (a version-2
// manifest records the largest chunk size), and false when no average size
// fits.
func cdcForMax(max int) (cdc, bool) {
	if max%4 != 0 || !validAverage(max/4) {
		return cdc{}, false
	}
	return newCDC(max / 4), true
}

// derivePolynomial derives the repository's secret chunking polynomial
// from the repository key: a deterministic stream (AES-256-CTR, zero IV,
// under the HKDF subkey "chunker-polynomial") feeds chunker.DerivePolynomial,
// so every client of a repository cuts identical content identically, and
// chunk boundaries reveal nothing without the key.
func derivePolynomial(master []byte, repoID [16]byte) (chunker.Pol, error) {
	key, err := hkdf.Key(sha256.New, master, repoID[:], "hipaakit-backup/v1/chunker-polynomial", 32)
	if err != nil {
		return 0, err
	}
	defer clear(key)
	b, err := aes.NewCipher(key)
	if err != nil {
		return 0, fmt.Errorf("backup: cipher: %w", err)
	}
	stream := cipher.StreamReader{S: cipher.NewCTR(b, make([]byte, aes.BlockSize)), R: zeroReader{}}
	pol, err := chunker.DerivePolynomial(stream)
	if err != nil {
		return 0, fmt.Errorf("backup: chunking polynomial: %w", err)
	}
	return pol, nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// splitter cuts an entry's content into chunks, content-defined (version
// 2) or of a fixed size (version 1, fixed > 0).
type splitter struct {
	c     cdc
	pol   chunker.Pol
	ch    *chunker.Chunker
	fixed int
	rd    io.Reader
}

func (r *Repository) newSplitter(m *Manifest) (*splitter, error) {
	if m.Version == 1 {
		return &splitter{fixed: m.ChunkSize}, nil
	}
	c, ok := cdcForMax(m.ChunkSize)
	if !ok {
		return nil, corruptf("manifest chunk size out of range")
	}
	return &splitter{c: c, pol: r.keys.pol, ch: chunker.NewWithBoundaries(nil, r.keys.pol, uint(c.min), uint(c.max))}, nil
}

// reset starts a new entry.
func (s *splitter) reset(rd io.Reader) {
	s.rd = rd
	if s.ch != nil {
		s.ch.ResetWithBoundaries(rd, s.pol, uint(s.c.min), uint(s.c.max))
		s.ch.SetAverageBits(s.c.bits)
	}
}

// next fills buf (whose capacity must be at least the largest chunk) with
// the next chunk. At the end of the entry it returns io.EOF and no data.
func (s *splitter) next(buf []byte) ([]byte, error) {
	if s.ch == nil {
		n, err := io.ReadFull(s.rd, buf[:s.fixed])
		if n > 0 {
			return buf[:n], nil
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return nil, err
	}
	c, err := s.ch.Next(buf)
	if err != nil {
		return nil, err
	}
	return c.Data, nil
}

// maxChunk returns the largest chunk the splitter cuts.
func (s *splitter) maxChunk() int {
	if s.ch == nil {
		return s.fixed
	}
	return s.c.max
}

// sumChunks returns the function a Checker uses to recompute the chunk
// references of restored content: the chunking of manifest m, the keyed
// hash of each chunk.
func (r *Repository) sumChunks(m *Manifest) func(io.Reader) ([]ChunkRef, int64, error) {
	return func(rd io.Reader) ([]ChunkRef, int64, error) {
		s, err := r.newSplitter(m)
		if err != nil {
			return nil, 0, err
		}
		s.reset(rd)
		buf := make([]byte, s.maxChunk())
		h := r.keys.newNameHash()
		var refs []ChunkRef
		var total int64
		for {
			c, err := s.next(buf)
			if err == io.EOF {
				return refs, total, nil
			}
			if err != nil {
				return refs, total, err
			}
			h.Reset()
			h.Write(c)
			var name [32]byte
			h.Sum(name[:0])
			refs = append(refs, ChunkRef{Name: hex.EncodeToString(name[:]), Size: int64(len(c))})
			total += int64(len(c))
		}
	}
}
