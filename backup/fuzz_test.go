package backup

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

// fuzzKeys are the keys of the golden repositories (versions 1 and 2), so
// that seeds taken from them reach the authenticated code paths.
func fuzzKeys(t testing.TB) []*repoKeys {
	return []*repoKeys{goldenKeys(t, goldenDir), goldenKeys(t, goldenDirV2)}
}

func goldenKeys(t testing.TB, dir string) *repoKeys {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repo", "config"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, id, err := parseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	k, err := cfg.unlock(context.Background(), id, testKEK(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeSeed(t *testing.T, fuzz, name string, b []byte) {
	dir := filepath.Join("testdata", "fuzz", fuzz)
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSeeds stores seed corpora taken from the golden repository.
func writeSeeds(t *testing.T, r *Repository, dm, km *Manifest) {
	// The version-1 seeds stay (their writer no longer exists); these are
	// named v2-*.
	ctx := context.Background()
	for i, m := range []*Manifest{dm, km} {
		env, _ := readObject(ctx, r.target, manifestObject(m.ID), MaxEnvelopeSize)
		writeSeed(t, "FuzzOpenManifest", fmt.Sprintf("v2-golden-%d", i), env)
		body, _ := encodeManifest(m)
		writeSeed(t, "FuzzDecodeManifest", fmt.Sprintf("v2-golden-%d", i), body)
	}

	ref := dm.Entries[len(dm.Entries)-1].Chunks
	for i, e := range dm.Entries {
		if len(e.Chunks) > 0 {
			ref = e.Chunks
			c, _ := readObject(ctx, r.target, chunkObjectHex(ref[0].Name), int64(MaxChunkSize+ChunkOverhead))
			writeSeed(t, "FuzzOpenChunk", fmt.Sprintf("v2-golden-%d", i), c[:min(len(c), 4096)])
		}
	}
	writeSeed(t, "FuzzOpenChunk", "v2-header-only", []byte("HKBC\x02\x01"))
	var dump bytes.Buffer
	writeJSONLine(&dump, keysetsHeader{Format: keysetsFormat, Version: 1})
	for _, k := range goldenKeysets {
		writeJSONLine(&dump, keysetLine{Ref: k.Ref, Version: 1, KEKID: k.KEKID, Ciphertext: k.Ciphertext, KeyIDs: k.KeyIDs})
	}
	writeSeed(t, "FuzzDecodeKeysets", "golden", dump.Bytes())
	writeSeed(t, "FuzzDecodeKeysets", "truncated", dump.Bytes()[:dump.Len()-1])
	cfg, _ := readObject(ctx, r.target, configName, 1<<20)
	writeSeed(t, "FuzzParseConfig", "v2-golden", cfg)
}

func chunkObjectHex(h string) string {
	n, _ := decodeChunkName(h)
	return chunkObject(n)
}

func FuzzOpenManifest(f *testing.F) {
	keys := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		k := keys[0]
		if e.Repo == keys[1].repoID {
			k = keys[1]
		}
		body, err := k.openEnvelope(b, envManifest, e.ID)
		if err != nil {
			// A verdict about the object (ListReport skips and names it),
			// never an error that would fail a whole listing.
			if _, ok := damaged(objErr("read", "manifests/x", err)); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Authentic: the body must decode (the golden seeds) or fail typed.
		if _, err := DecodeManifest(body); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := encodeManifest(m)
		if err != nil {
			t.Fatalf("accepted manifest does not re-encode: %v", err)
		}
		m2, err := DecodeManifest(again)
		if err != nil || fmt.Sprint(m2) != fmt.Sprint(m) {
			t.Fatalf("round trip changed the manifest: %v", err)
		}
	})
}

func FuzzOpenChunk(f *testing.F) {
	keys := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseChunk(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, k := range keys {
			var name [32]byte
			h := k.newNameHash()
			h.Write(b)
			h.Sum(name[:0])
			if _, err := k.openChunk(nil, bytes.Clone(b), name, len(p.Ciphertext)-tagSize, nil); err == nil {
				t.Fatal("a forged chunk authenticated")
			} else if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}

func FuzzDecodeKeysets(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		prev := ""
		_, err := decodeKeysets(bytes.NewReader(b), func(w phi.WrappedKeyset) error {
			if !phi.ValidRef(w.Ref) || w.Ref <= prev {
				return fmt.Errorf("accepted an invalid or unordered reference")
			}
			prev = w.Ref
			return nil
		})
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) && err != io.ErrUnexpectedEOF {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, id, err := parseConfig(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if hex.EncodeToString(id[:]) != cfg.Repo {
			t.Fatal("repository id mismatch")
		}
	})
}

// FuzzDecompress feeds arbitrary frames and declared sizes to the zstd
// path of a version-2 chunk: it never panics, never returns more or fewer
// bytes than declared, and fails only with ErrCorrupt.
func FuzzDecompress(f *testing.F) {
	for _, n := range []int{1, 100, 5000, 70000} {
		src := bytes.Repeat([]byte("the patient reports "), n/20+1)[:n]
		z, _ := compress(nil, src)
		f.Add(z, uint32(n))
		f.Add(z, uint32(n-1))
	}
	f.Fuzz(func(t *testing.T, z []byte, size uint32) {
		n := int(size % (1 << 20))
		out, err := decompress(nil, z, n)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(out) != n {
			t.Fatalf("decompressed %d bytes, declared %d", len(out), n)
		}
	})
}
