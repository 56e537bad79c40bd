package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/signing"
)

var overlapStart = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// Overlapping requests are chained out of time order; a JSON Lines export
// of the whole stream must still verify with the same code as the log.
func TestFileExportOfOverlappingRequestsVerifies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	l, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	audittest.ServeOverlapping(t, l, overlapStart)
	audittest.ServeOverlapping(t, l, overlapStart.Add(time.Hour))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := audit.OpenFileReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := audit.VerifyOptions{Keys: mustKeySet(t, key.Public().(ed25519.PublicKey))}
	for name, s := range map[string]audit.Searcher{
		"FileSearcher":     audit.FileSearcher(r),
		"VerifiedSearcher": audit.VerifiedSearcher(r.Entries, opts),
	} {
		if n := audittest.ExportVerifies(t, s, opts); n != 4 {
			t.Fatalf("%s: exported %d records, want 4", name, n)
		}
	}
}

// A hand-edited log (one record's subject changed in place) is reported by
// query, export and accounting through a VerifiedSearcher.
func TestVerifiedSearcherReportsTamperingFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	l, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	audittest.ServeOverlapping(t, l, overlapStart)
	audittest.ServeOverlapping(t, l, overlapStart.Add(time.Minute))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	b, _ := os.ReadFile(segs[0])
	b = bytes.Replace(b, []byte(`"subject":"p-2"`), []byte(`"subject":"p-9"`), 1)
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := audit.OpenFileReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := audit.VerifyOptions{Keys: mustKeySet(t, key.Public().(ed25519.PublicKey))}
	audittest.ReadsReportTampering(t, audit.FileSearcher(r), audit.VerifiedSearcher(r.Entries, opts), "p-9",
		overlapStart.Add(-time.Hour), overlapStart.Add(time.Hour))
}

// mustKeySet is the signing.KeySet of keys.
func mustKeySet(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
