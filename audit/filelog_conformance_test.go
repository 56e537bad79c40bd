package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
)

func TestFileLogConformance(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	var open func(t *testing.T, dir string) audittest.Harness
	open = func(t *testing.T, dir string) audittest.Harness {
		l, err := audit.OpenFileLog(context.Background(), dir, audit.FileOptions{Signer: key, Stream: "conformance"})
		if err != nil {
			t.Fatal(err)
		}
		return audittest.Harness{
			Writer:  l,
			Entries: l.Reader().Entries,
			Keys:    mustKeySet(t, l.PublicKey()),
			Close:   l.Close,
			Reopen: func(t *testing.T) audittest.Harness {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				return open(t, dir)
			},
		}
	}
	audittest.Run(t, func(t *testing.T) audittest.Harness { return open(t, t.TempDir()) })
}

// TestFileTrailHistory runs the record-history conformance suite against
// the file trail.
func TestFileTrailHistory(t *testing.T) { audittest.RunHistory(t, fileTrailHarness) }

// TestFileTrailListingOrder runs the listing-order conformance suite
// (ascending and newest first) against the file trail.
func TestFileTrailListingOrder(t *testing.T) { audittest.RunListingOrder(t, fileTrailHarness) }

func fileTrailHarness(t *testing.T) audittest.HistoryHarness {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, ed25519.SeedSize))
	l, err := audit.OpenFileLog(context.Background(), t.TempDir(), audit.FileOptions{Signer: key, Stream: "history"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return audittest.HistoryHarness{Trail: audit.NewFileTrail(l)}
}
