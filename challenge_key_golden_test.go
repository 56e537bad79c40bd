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
