// Package archivetest checks an audit/archive Target end to end: a file
// log is archived to it, the archive verifies on its own and proves
// inclusion, queries read it, and it purges after the retention. It links
// testing; use it from tests only.
package archivetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

// Key returns the log's signing key Run uses (a fixed test key).
func Key() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)) }

// Run archives a file log of about 60 events (written a minute apart from
// the time of clk, then clk is moved two days on) to tgt, and checks that
// the archive verifies, proves and answers a query; then, with clk moved
// past six years, that purge removes all but the newest unit and what
// remains verifies. It returns the archived units.
func Run(t *testing.T, tgt archive.Target, clk *clock.Fake) []archive.Unit {
	t.Helper()
	ctx := context.Background()
	key := Key()
	keys, _ := signing.NewKeySet(key.Public().(ed25519.PublicKey))
	l, err := audit.OpenFileLog(ctx, t.TempDir(), audit.FileOptions{Signer: key, Clock: clk, SegmentMaxBytes: 4 << 10, CheckpointEvery: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 60 {
		e := audit.Event{Time: clk.Now(), Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
			Actor:  audit.Actor{UserID: "u-1", Role: "nurse"},
			Origin: audit.Origin{Channel: audit.ChannelAPI, Route: "GET /patients/{id}"},
			Target: audit.Target{RecordType: "patient", RecordID: fmt.Sprintf("r-%d", i), Subject: fmt.Sprintf("s-%d", i%5)}}
		if err := l.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	clk.Advance(48 * time.Hour)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := archive.New(archive.Config{Target: tgt, Keys: keys, Signer: key, After: 24 * time.Hour, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Archive(ctx, archive.FileSource(l))
	if err != nil || len(rep.Archived) < 3 {
		t.Fatalf("archive: %+v %v", rep, err)
	}
	units := rep.Archived
	res, err := a.Verify(ctx, "audit")
	if err != nil || res.First != 1 || res.Last != units[len(units)-1].Last {
		t.Fatalf("verify: %+v %v", res, err)
	}
	proof, err := a.Prover("audit").ProveInclusion(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := proof.Marshal()
	if _, err := audit.VerifyInclusionProof(b, keys, "audit"); err != nil {
		t.Fatalf("inclusion proof from the archive: %v", err)
	}
	page, err := audit.Query(ctx, a.Searcher("audit"), audit.Filter{Subject: "s-1", Limit: 100})
	if err != nil || len(page.Records) == 0 {
		t.Fatalf("query of the archive: %d records, %v", len(page.Records), err)
	}
	for _, r := range page.Records {
		if r.Event.Target.Subject != "s-1" || r.Seq > res.Last {
			t.Fatalf("query returned record %d of %s", r.Seq, r.Event.Target.Subject)
		}
	}
	clk.Set(audit.SixYearsAfter(units[len(units)-1].WrittenBy).Add(time.Hour))
	prep, err := a.Purge(ctx, "audit", archive.PurgeOptions{Audit: l})
	if err != nil || len(prep.Purged) != len(units)-1 || prep.StoppedBy != archive.PurgeStopNewest {
		t.Fatalf("purge: %+v %v", prep, err)
	}
	if res, err := a.Verify(ctx, "audit"); err != nil || res.First != units[len(units)-1].First {
		t.Fatalf("verify after purge: %+v %v", res, err)
	}
	return units
}
