package disposal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"
)

// Found in review: an Append whose context ended after its event was
// linked into the chain returned an error while the event still became
// durable, and the subject index was never updated, so Lookup disagreed
// with the durable ledger (a retry recorded a second disposal).
func TestFileLedgerAppendCancelledKeepsIndexInStep(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := openFileLedgerWith(t, dir, FileLedgerOptions{Signer: priv})
	const n = 300
	seen := make(map[string]bool)
	for i := range n {
		subject := fmt.Sprintf("patient-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%25)*time.Microsecond)
		st := Statement{ID: fmt.Sprintf("dc-%032x", i), Subject: subject, Time: time.Unix(1700000000, 0).UTC(),
			Actor: "u", Reason: "r", Method: MethodCryptoErase, KeyIDs: []uint32{}}
		_, appendErr := l.record(ctx, st)
		cancel()
		_, found, err := l.Lookup(context.Background(), subject)
		if err != nil {
			t.Fatalf("%s: Lookup: %v", subject, err)
		}
		if appendErr == nil && !found {
			t.Fatalf("%s: appended but not found", subject)
		}
		seen[subject] = found
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenFileLedgerReader(context.Background(), dir, FileLedgerOptions{Keys: testKeySet(t, pub)})
	if err != nil {
		t.Fatal(err)
	}
	durable := NewLedger(r)
	for i := range n {
		subject := fmt.Sprintf("patient-%d", i)
		_, found, err := durable.Lookup(context.Background(), subject)
		if err != nil {
			t.Fatal(err)
		}
		if found != seen[subject] {
			t.Errorf("%s: durable ledger has it %v, index said %v", subject, found, seen[subject])
		}
	}
}
