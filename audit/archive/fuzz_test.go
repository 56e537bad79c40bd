package archive_test

import (
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/audit/archive"
)

// FuzzParseTilePath: a path parses only if it is the canonical path of the
// tile it names, and never panics.
func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/000", "tile/0/x001/234.p/5", "tile/3/x123/x456/789", "tile/0/000.p/255",
		"tile/0/000.p/256", "tile/0/001.p/0", "tile/8/000", "tile/0/x000/001", "tile/entries/000", "tile/0/1", "tile//000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		tile, err := archive.ParseTilePath(path)
		if err != nil {
			if !errors.Is(err, archive.ErrMalformedTile) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if archive.TilePath(tile) != path || tile.H != archive.TileHeight || tile.W < 1 || tile.W > 256 || tile.N < 0 || tile.L < 0 {
			t.Fatalf("%q parsed as %+v", path, tile)
		}
	})
}

// TestTilePathsMatchTlog checks the C2SP paths against
// golang.org/x/mod/sumdb/tlog's, which add the height after "tile/".
func TestTilePathsMatchTlog(t *testing.T) {
	for _, tile := range tlog.NewTiles(archive.TileHeight, 0, 1_234_567) {
		p := archive.TilePath(tile)
		want := "tile/" + tile.Path()[len("tile/8/"):]
		if p != want {
			t.Fatalf("%+v: %s, want %s", tile, p, want)
		}
		got, err := archive.ParseTilePath(p)
		if err != nil || got != tile {
			t.Fatalf("%s parsed as %+v, %v", p, got, err)
		}
	}
}

// FuzzParseUnit: a manifest parses into a well-formed unit or fails with
// ErrMalformedUnit.
func FuzzParseUnit(f *testing.F) {
	f.Add([]byte(`{"format":"hipaakit audit archive unit v1","stream":"audit","first":1,"last":6,"segment_sha256":"` +
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" + `","written_by":"2026-01-05T09:07:00Z","retain_until":"2032-01-05T09:07:00Z"}`))
	f.Add([]byte(`{"format":"hipaakit audit archive unit v1","stream":"a b","first":0,"last":6}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := archive.ParseUnit(b)
		if err != nil {
			if !errors.Is(err, archive.ErrMalformedUnit) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if u.First == 0 || u.Last < u.First || len(u.SHA256) != 64 {
			t.Fatalf("accepted %+v", u)
		}
	})
}
