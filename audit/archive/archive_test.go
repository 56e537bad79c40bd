package archive_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

type fixture struct {
	t    *testing.T
	clk  *clock.Fake
	key  ed25519.PrivateKey
	keys signing.KeySet
	log  *audit.FileLog
	tgt  *archive.MemoryTarget
	a    *archive.Archive
	n    int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: clock.NewFake(t0), key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))}
	f.keys, _ = signing.NewKeySet(f.key.Public().(ed25519.PublicKey))
	l, err := audit.OpenFileLog(context.Background(), t.TempDir(), audit.FileOptions{Signer: f.key, Clock: f.clk,
		SegmentMaxBytes: 4 << 10, CheckpointEvery: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f.log = l
	f.tgt = &archive.MemoryTarget{Clock: f.clk}
	if f.a, err = archive.New(archive.Config{Target: f.tgt, Keys: f.keys, Signer: f.key, After: 24 * time.Hour, Clock: f.clk}); err != nil {
		t.Fatal(err)
	}
	return f
}

// write appends n events about subjects s-0..s-4, a minute apart.
func (f *fixture) write(n int) {
	f.t.Helper()
	for range n {
		e := audit.Event{Time: f.clk.Now(), Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
			Actor:  audit.Actor{UserID: "u-1", Role: "nurse"},
			Origin: audit.Origin{Channel: audit.ChannelAPI, Route: "GET /patients/{id}"},
			Target: audit.Target{RecordType: "patient", RecordID: fmt.Sprintf("r-%d", f.n), Subject: fmt.Sprintf("s-%d", f.n%5)}}
		if err := f.log.Write(context.Background(), e); err != nil {
			f.t.Fatal(err)
		}
		f.n++
		f.clk.Advance(time.Minute)
	}
	if _, err := f.log.Checkpoint(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) liveCheckpoint() audit.TreeCheckpoint {
	f.t.Helper()
	cp, err := f.log.Reader().Prover(f.keys).TreeCheckpoint(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return cp
}

// TestArchiveVerifiesOnItsOwn archives the sealed segments older than a
// day, then checks the archive with only the keys: Verify, inclusion
// proofs of archived records verified offline, consistency with the live
// log, verified reads through audit.Query, and the object lock dates.
func TestArchiveVerifiesOnItsOwn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.write(60)
	kept := f.liveCheckpoint() // a checkpoint someone kept
	f.write(60)
	rep, err := f.a.Archive(ctx, archive.FileSource(f.log))
	if err != nil || len(rep.Archived) != 0 || rep.StoppedBy != "young" {
		t.Fatalf("young segments: %+v %v", rep, err)
	}
	f.clk.Advance(48 * time.Hour)
	f.write(3)
	rep, err = f.a.Archive(ctx, archive.FileSource(f.log))
	if err != nil || len(rep.Archived) < 3 {
		t.Fatalf("archive: %+v %v", rep, err)
	}
	last := rep.Archived[len(rep.Archived)-1].Last
	if kept.Size > last {
		t.Fatalf("the kept checkpoint (%d) is past the archive (%d)", kept.Size, last)
	}
	t.Logf("archived %d units through %d of %d records", len(rep.Archived), last, f.n)
	res, err := f.a.Verify(ctx, "audit")
	if err != nil || res.First != 1 || res.Last != last || res.Units != len(rep.Archived) {
		t.Fatalf("verify: %+v %v", res, err)
	}
	for _, u := range rep.Archived {
		name := "audit/audit/seg/" + fmt.Sprintf("%020d.jsonl", u.First)
		if got, want := f.tgt.RetainedUntil(name), audit.SixYearsAfter(u.WrittenBy); !got.Equal(want) || !u.RetainUntil.Equal(want) {
			t.Fatalf("%s retained until %v, want %v", name, got, want)
		}
	}
	// inclusion proofs from the archive alone, checked offline
	p := f.a.Prover("audit")
	v := audit.NewProofVerifier(f.keys)
	for _, seq := range []uint64{1, 2, last / 2, last} {
		proof, err := p.ProveInclusion(ctx, seq)
		if err != nil {
			t.Fatalf("prove %d: %v", seq, err)
		}
		b, _ := proof.Marshal()
		if got, err := v.Inclusion(b, "audit"); err != nil || got.Record.Seq != seq {
			t.Fatalf("verify proof %d: %v", seq, err)
		}
	}
	if _, err := p.ProveInclusion(ctx, last+1); !errors.Is(err, audit.ErrNoTree) {
		t.Fatalf("an unarchived record: %v", err)
	}
	// the archive's newest checkpoint is consistent with the live log's
	acp, err := p.TreeCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live := f.liveCheckpoint()
	proof, err := f.log.Reader().Prover(f.keys).ProveConsistency(ctx, acp, live)
	if err != nil || audit.VerifyConsistency(acp, live, proof) != nil {
		t.Fatalf("archive to live consistency: %v", err)
	}
	// and extends the checkpoint kept earlier, proven from the archive
	{
		if _, err := p.VerifySince(ctx, kept); err != nil {
			t.Fatalf("VerifySince: %v", err)
		}
		cproof, err := p.ProveConsistency(ctx, kept, acp)
		if err != nil || audit.VerifyConsistency(kept, acp, cproof) != nil {
			t.Fatalf("consistency from the kept checkpoint: %v", err)
		}
	}
	// queries read the archived range
	page, err := audit.Query(ctx, f.a.Searcher("audit"), audit.Filter{Subject: "s-3", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range int(last) {
		if i%5 == 3 {
			want++
		}
	}
	if len(page.Records) != want {
		t.Fatalf("query of the archive: %d records of s-3, want %d", len(page.Records), want)
	}
	// archiving again is incremental and the archive still verifies
	f.write(80)
	f.clk.Advance(48 * time.Hour)
	f.write(2)
	rep2, err := f.a.Archive(ctx, archive.FileSource(f.log))
	if err != nil || len(rep2.Archived) == 0 || rep2.Archived[0].First != last+1 {
		t.Fatalf("second archive: %+v %v", rep2, err)
	}
	if res, err := f.a.Verify(ctx, "audit"); err != nil || res.Last != rep2.Archived[len(rep2.Archived)-1].Last {
		t.Fatalf("verify after the second archive: %+v %v", res, err)
	}
	if _, err := p.VerifySince(ctx, acp); err != nil {
		t.Fatalf("VerifySince the first archive's checkpoint: %v", err)
	}
}
