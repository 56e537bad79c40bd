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

// fuzzKeys are the golden repository's keys, so that seeds taken from it
// reach the authenticated code paths.
func fuzzKeys(t testing.TB) *repoKeys {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "repo", "config"))
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
	for _, d := range []string{"FuzzOpenManifest", "FuzzDecodeManifest", "FuzzOpenChunk", "FuzzDecodeKeysets", "FuzzParseConfig"} {
		os.RemoveAll(filepath.Join("testdata", "fuzz", d))
	}
	ctx := context.Background()
	for i, m := range []*Manifest{dm, km} {
		env, _ := readObject(ctx, r.target, manifestObject(m.ID), MaxEnvelopeSize)
		writeSeed(t, "FuzzOpenManifest", fmt.Sprintf("golden-%d", i), env)
		body, _ := encodeManifest(m)
		writeSeed(t, "FuzzDecodeManifest", fmt.Sprintf("golden-%d", i), body)
	}
	writeSeed(t, "FuzzOpenManifest", "short", []byte("HKBE\x01\x01"))
	writeSeed(t, "FuzzDecodeManifest", "empty-object", []byte("{}"))
	ref := dm.Entries[len(dm.Entries)-1].Chunks
	for i, e := range dm.Entries {
		if len(e.Chunks) > 0 {
			ref = e.Chunks
			c, _ := readObject(ctx, r.target, chunkObjectHex(ref[0].Name), int64(MaxChunkSize+ChunkOverhead))
			writeSeed(t, "FuzzOpenChunk", fmt.Sprintf("golden-%d", i), c[:min(len(c), 4096)])
		}
	}
	writeSeed(t, "FuzzOpenChunk", "header-only", []byte("HKBC\x01"))
	var dump bytes.Buffer
	writeJSONLine(&dump, keysetsHeader{Format: keysetsFormat, Version: 1})
	for _, k := range goldenKeysets {
		writeJSONLine(&dump, keysetLine{Ref: k.Ref, Version: 1, KEKID: k.KEKID, Ciphertext: k.Ciphertext, KeyIDs: k.KeyIDs})
	}
	writeSeed(t, "FuzzDecodeKeysets", "golden", dump.Bytes())
	writeSeed(t, "FuzzDecodeKeysets", "truncated", dump.Bytes()[:dump.Len()-1])
	cfg, _ := readObject(ctx, r.target, configName, 1<<20)
	writeSeed(t, "FuzzParseConfig", "golden", cfg)
}

func chunkObjectHex(h string) string {
	n, _ := decodeChunkName(h)
	return chunkObject(n)
}

func FuzzOpenManifest(f *testing.F) {
	k := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
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
	k := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := ParseChunk(b); err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		var name [32]byte
		h := k.newNameHash()
		h.Write(b)
		h.Sum(name[:0])
		if _, err := k.openChunk(nil, b, name, len(b)-ChunkOverhead, nil); err == nil {
			t.Fatal("a forged chunk authenticated")
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("untyped error %v", err)
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
