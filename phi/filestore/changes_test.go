package filestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/keystoretest"
)

// twoHandles returns two Stores on one directory. They share nothing in
// memory: what one learns of the other's changes goes through the
// directory, as between two processes.
func twoHandles(t *testing.T) (a, b phi.KeyStore) {
	dir := t.TempDir()
	return open(t, dir), open(t, dir)
}

func TestAnnouncements(t *testing.T) {
	keystoretest.RunAnnouncements(t, twoHandles)
}

// A shred through a Vault on one handle is refused by a Vault on another
// handle of the directory, which had the keys cached, within the change
// counter's poll interval (100 ms); the distribution over 30 trials is
// logged (each trial waits up to one poll, so more would only slow CI).
func TestShredVisibleOnAnotherHandleWithinASecond(t *testing.T) {
	a, b := twoHandles(t)
	d := keystoretest.ShredVisibility(t, a, b, 30)
	p50, p99 := keystoretest.Percentile(d, 50), keystoretest.Percentile(d, 99)
	t.Logf("shred -> first refused Open on the other handle, %d trials: min %v, p50 %v, p90 %v, p99 %v, max %v",
		len(d), d[0], p50, keystoretest.Percentile(d, 90), p99, d[len(d)-1])
	if p99 > time.Second {
		t.Fatalf("p99 %v, want at most 1 s", p99)
	}
}

// Create announces nothing (no one can have cached keys that did not
// exist), Update and Shred bump the counter, also a repeated Shred (so that
// a retry after a failed announcement announces).
func TestChangeCounter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	gen := func() uint64 { return filestore.Generation(t, dir) }
	k := keystoretest.Keyset("subject-1", 1)
	if err := s.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	if g := gen(); g != 0 {
		t.Fatalf("after Create the counter is %d, want 0", g)
	}
	if err := s.Update(ctx, keystoretest.Keyset("subject-1", 2), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, keystoretest.Keyset("subject-1", 3), 1); err == nil {
		t.Fatal("a stale Update succeeded")
	}
	if g := gen(); g != 1 {
		t.Fatalf("after one Update (and one refused) the counter is %d, want 1", g)
	}
	for range 2 {
		if _, err := s.Shred(ctx, "subject-1"); err != nil {
			t.Fatal(err)
		}
	}
	if g := gen(); g != 3 {
		t.Fatalf("after two Shreds the counter is %d, want 3", g)
	}
	if refs, err := s.List(ctx, "", 10); err != nil || len(refs) != 0 {
		t.Fatalf("List sees %d keysets (%v): the counter must not look like a record", len(refs), err)
	}
}
