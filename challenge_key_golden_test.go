package hipaakit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/phi/localkek"
)

// TestChallengeKeyGolden: the version-1 stored form (testdata/
// challenge-key-v1.json: the key 32 × 0x17 wrapped by the local KEK
// 32 × 0x42) keeps opening to the same key; a version this code does not
// know and a damaged wrap are refused with a *ChallengeKeyError (not a
// wrong KEK: the KEK's ID is the stored one).
func TestChallengeKeyGolden(t *testing.T) {
	ctx := context.Background()
	kek, err := localkek.New(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "challenge-key-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	put := func(b []byte) {
		if err := os.WriteFile(filepath.Join(dir, FileChallengeKey), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	put(golden)
	key, err := openChallengeKey(ctx, fileChallengeKeys{dir}, kek)
	if err != nil || !bytes.Equal(key, bytes.Repeat([]byte{0x17}, 32)) {
		t.Fatalf("the golden challenge key: %x, %v", key, err)
	}
	var ce *ChallengeKeyError
	put(bytes.Replace(golden, []byte(`"version":1`), []byte(`"version":2`), 1))
	if _, err := openChallengeKey(ctx, fileChallengeKeys{dir}, kek); !errors.As(err, &ce) || errors.Is(err, ErrWrongKEK) {
		t.Fatalf("version 2: %v", err)
	}
	put(bytes.Replace(golden, []byte(`"wrapped":"AQ`), []byte(`"wrapped":"AA`), 1))
	if _, err := openChallengeKey(ctx, fileChallengeKeys{dir}, kek); !errors.As(err, &ce) || !errors.Is(err, ErrChallengeKey) || errors.Is(err, ErrWrongKEK) {
		t.Fatalf("a damaged wrap (under the right KEK): %v", err)
	}
	put([]byte("{"))
	if _, err := openChallengeKey(ctx, fileChallengeKeys{dir}, kek); !errors.As(err, &ce) || ce.Object != "file "+FileChallengeKey {
		t.Fatalf("a file that is not JSON: %v", err)
	}
}

// FuzzChallengeKeyFile: any content of FileChallengeKey decodes and
// unwraps to a 32-byte key or a clean error (a *ChallengeKeyError from the
// unwrap), never a panic.
func FuzzChallengeKeyFile(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "challenge-key-v1.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(`{"version":1,"kek_id":"local:e00f126729c8dfb5","wrapped":""}`))
	f.Add([]byte(`{"version":-1,"wrapped":null}`))
	f.Add([]byte(`[]`))
	kek, err := localkek.New(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		f.Fatal(err)
	}
	st := fileChallengeKeys{}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeChallengeKeyFile(b)
		if err != nil {
			return
		}
		key, err := unwrapChallengeKey(context.Background(), st, s, kek)
		var ce *ChallengeKeyError
		switch {
		case err != nil && !errors.As(err, &ce):
			t.Fatalf("not a *ChallengeKeyError: %v", err)
		case err == nil && len(key) != 32:
			t.Fatalf("a %d-byte key", len(key))
		}
	})
}
