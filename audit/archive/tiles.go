package archive

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/audit"
)

// TileHeight is the height of the archive's tree tiles: C2SP tlog-tiles
// tiles of 256 hashes.
const TileHeight = 8

// ErrMalformedTile reports a tile path or tile content that is not a C2SP
// tlog-tiles hash tile of the archive.
var ErrMalformedTile = errors.New("audit/archive: malformed tile")

// maxTileLevel bounds a tile's level: 8 levels of 8 cover 2^64 leaves.
const maxTileLevel = 8

// TilePath returns the C2SP tlog-tiles path of a hash tile, relative to
// the stream's directory: "tile/L/N" for a full tile and "tile/L/N.p/W" for
// a partial one of width W, N written in groups of three digits, all but
// the last prefixed with "x" (tile/0/x001/234.p/5).
func TilePath(t tlog.Tile) string {
	var b strings.Builder
	b.WriteString("tile/")
	b.WriteString(strconv.Itoa(t.L))
	b.WriteByte('/')
	n := t.N
	var groups []string
	for {
		groups = append(groups, fmt.Sprintf("%03d", n%1000))
		n /= 1000
		if n == 0 {
			break
		}
	}
	for i := len(groups) - 1; i > 0; i-- {
		b.WriteByte('x')
		b.WriteString(groups[i])
		b.WriteByte('/')
	}
	b.WriteString(groups[0])
	if t.W < 1<<TileHeight {
		b.WriteString(".p/")
		b.WriteString(strconv.Itoa(t.W))
	}
	return b.String()
}

// ParseTilePath parses a hash tile's path (TilePath); the path must be
// canonical (it re-encodes byte for byte), else ErrMalformedTile.
func ParseTilePath(path string) (tlog.Tile, error) {
	if len(path) > 64 {
		return tlog.Tile{}, ErrMalformedTile
	}
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return tlog.Tile{}, ErrMalformedTile
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 {
		return tlog.Tile{}, ErrMalformedTile
	}
	l, err := strconv.Atoi(parts[0])
	if err != nil || l < 0 || l >= maxTileLevel {
		return tlog.Tile{}, ErrMalformedTile
	}
	t := tlog.Tile{H: TileHeight, L: l, W: 1 << TileHeight}
	if last := parts[len(parts)-1]; len(parts) >= 3 && strings.HasSuffix(parts[len(parts)-2], ".p") {
		w, err := strconv.Atoi(last)
		if err != nil || w < 1 || w >= 1<<TileHeight {
			return tlog.Tile{}, ErrMalformedTile
		}
		t.W = w
		parts = parts[:len(parts)-1]
		parts[len(parts)-1] = strings.TrimSuffix(parts[len(parts)-1], ".p")
	}
	groups := parts[1:]
	if len(groups) > 7 {
		return tlog.Tile{}, ErrMalformedTile
	}
	for i, g := range groups {
		if i < len(groups)-1 {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return tlog.Tile{}, ErrMalformedTile
			}
		}
		if len(g) != 3 || g[0] < '0' || g[0] > '9' || g[1] < '0' || g[1] > '9' || g[2] < '0' || g[2] > '9' {
			return tlog.Tile{}, ErrMalformedTile
		}
		d, _ := strconv.Atoi(g)
		if t.N > (1<<62)/1000 {
			return tlog.Tile{}, ErrMalformedTile
		}
		t.N = t.N*1000 + int64(d)
	}
	if TilePath(t) != path {
		return tlog.Tile{}, ErrMalformedTile
	}
	return t, nil
}

// checkTileData checks that data is the content of t: W hashes.
func checkTileData(t tlog.Tile, data []byte) error {
	if len(data) != t.W*tlog.HashSize {
		return fmt.Errorf("%w: %s holds %d bytes, not %d hashes", ErrMalformedTile, TilePath(t), len(data), t.W)
	}
	return nil
}

// hashReader adapts an audit.TreeStore to tlog.HashReader.
func hashReader(ctx context.Context, s audit.TreeStore) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs, err := s.ReadHashes(ctx, idx)
		if err != nil {
			return nil, err
		}
		if len(hs) != len(idx) {
			return nil, fmt.Errorf("%w: %d hashes for %d indexes", audit.ErrTreeMismatch, len(hs), len(idx))
		}
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = tlog.Hash(h)
		}
		return out, nil
	})
}

// tileReader reads a stream's tiles from the target (tlog.TileReader),
// falling back from a missing partial tile to the full one, and keeps the
// tiles it read.
type tileReader struct {
	ctx    context.Context
	t      Target
	prefix string // the stream's directory, ending in '/'

	mu    sync.Mutex
	cache map[tlog.Tile][]byte
}

func (r *tileReader) Height() int { return TileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		r.mu.Lock()
		b, ok := r.cache[t]
		r.mu.Unlock()
		if ok {
			out[i] = b
			continue
		}
		b, err := r.t.Get(r.ctx, r.prefix+TilePath(t))
		if errors.Is(err, ErrNotFound) && t.W < 1<<TileHeight {
			full := t
			full.W = 1 << TileHeight
			if b, err = r.t.Get(r.ctx, r.prefix+TilePath(full)); err == nil && len(b) == len(b)/tlog.HashSize*tlog.HashSize && len(b) >= t.W*tlog.HashSize {
				b = b[:t.W*tlog.HashSize]
			}
		}
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: archive tile %s is missing", audit.ErrNoTree, TilePath(t))
		}
		if err != nil {
			return nil, targetError{err}
		}
		if err := checkTileData(t, b); err != nil {
			return nil, fmt.Errorf("%w: %w", audit.ErrTreeMismatch, err)
		}
		out[i] = b
	}
	return out, nil
}

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) > 4096 {
		clear(r.cache)
	}
	for i, t := range tiles {
		r.cache[t] = data[i]
	}
}

// tileStore is the audit.TreeStore of a stream's archived tree at a
// verified checkpoint: every hash it returns was checked against the
// checkpoint's root (tlog.TileHashReader).
type tileStore struct {
	hr tlog.HashReader
}

func newTileStore(ctx context.Context, t Target, prefix string, cp audit.TreeCheckpoint) tileStore {
	r := &tileReader{ctx: ctx, t: t, prefix: prefix, cache: map[tlog.Tile][]byte{}}
	return tileStore{hr: tlog.TileHashReader(tlog.Tree{N: int64(cp.Size), Hash: tlog.Hash(cp.Root)}, r)}
}

func (s tileStore) ReadHashes(ctx context.Context, idx []int64) ([]audit.Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hs, err := s.hr.ReadHashes(idx)
	if err != nil {
		var te targetError
		if errors.As(err, &te) {
			return nil, te.error
		}
		if errors.Is(err, audit.ErrNoTree) || errors.Is(err, audit.ErrTreeMismatch) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: archive tiles: %v", audit.ErrTreeMismatch, err)
	}
	out := make([]audit.Hash, len(hs))
	for i, h := range hs {
		out[i] = audit.Hash(h)
	}
	return out, nil
}

// targetError is a Target's failure while reading tiles, passed through as
// it is (it says nothing about the tree).
type targetError struct{ error }

func (e targetError) Unwrap() error { return e.error }
