package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/internal/clock"
)

func TestPurgeWholeSegmentsRespectingHoldsAndRetention(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(testTime)
	l := openTestLog(t, dir, func(o *FileOptions) { o.Clock = clk; o.SegmentMaxBytes = 1 })
	defer l.Close()
	ctx := context.Background()
	write := func(subject string) {
		t.Helper()
		e := sampleEvent(0)
		e.Target.Subject = subject
		if err := l.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	write("a") // seg 1
	write("b") // seg 2
	write("held")
	write("c")
	clk.Advance(6*365*24*time.Hour + 30*24*time.Hour)
	write("new") // younger than the cutoff
	segs, _ := l.Reader().Segments()
	if len(segs) != 5 {
		t.Fatalf("segments: %d", len(segs))
	}
	held := func(r *Record) bool { return r.Event.Target.Subject == "held" }

	dry, err := l.Purge(ctx, PurgeOptions{Held: held, DryRun: true})
	if err != nil || len(dry.Purged) != 2 || dry.StoppedBy != PurgeStopHeld || dry.ThroughSeq != 2 {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	if after, _ := l.Reader().Segments(); len(after) != 5 {
		t.Fatal("dry run removed segments")
	}
	rep, err := l.Purge(ctx, PurgeOptions{Held: held})
	if err != nil || len(rep.Purged) != 2 {
		t.Fatalf("purge: %v %+v", err, rep)
	}
	opts := testKeys(t)
	res, err := l.Reader().Verify(ctx, opts)
	if err != nil {
		t.Fatalf("verify after purge: %v", err)
	}
	if s := res.Streams[0]; s.StartSeq != 2 || s.LastSeq != 6 {
		t.Fatalf("after purge: %+v", s)
	}
	// without the hold, everything but the young segment and the active one goes
	rep, err = l.Purge(ctx, PurgeOptions{})
	if err != nil || len(rep.Purged) != 2 || rep.StoppedBy != PurgeStopRetention || rep.ThroughSeq != 4 {
		t.Fatalf("second purge: %v %+v", err, rep)
	}
	if _, err := l.Reader().Verify(ctx, opts); err != nil {
		t.Fatalf("verify after second purge: %v", err)
	}
	// a custom retention shorter than the age of everything stops only at the active segment
	clk.Advance(time.Hour)
	rep, err = l.Purge(ctx, PurgeOptions{Retention: time.Minute})
	if err != nil || rep.StoppedBy != PurgeStopActive {
		t.Fatalf("third purge: %v %+v", err, rep)
	}
	if _, err := l.Reader().Verify(ctx, opts); err != nil {
		t.Fatalf("verify after third purge: %v", err)
	}
	var purges int
	for r, err := range l.Reader().Records(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Event.Action == ActionRetentionPurge {
			purges++
		}
	}
	if purges == 0 {
		t.Fatal("purge events not kept")
	}
	_, err = VerifyDir(ctx, dir, VerifyOptions{})
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("verify without keys: %v", err)
	}
}

// After a key rotation the anchors of the old segments were signed by a
// previous key; Purge must trust FileOptions.PreviousKeys as Open does.
func TestPurgeAfterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	old := openTestLog(t, dir, func(o *FileOptions) { o.SegmentMaxBytes = 1 })
	for i := 0; i < 3; i++ {
		if err := old.Write(ctx, sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	newKey := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	oldPub := testKey(t).Public().(ed25519.PublicKey)
	clk := clock.NewFake(testTime.AddDate(DefaultRetentionYears+1, 0, 0))
	l := openTestLog(t, dir, func(o *FileOptions) {
		o.Signer = newKey
		o.PreviousKeys = []ed25519.PublicKey{oldPub}
		o.Clock = clk
		o.SegmentMaxBytes = 1
	})
	defer l.Close()
	if err := l.Write(ctx, sampleEvent(9)); err != nil {
		t.Fatal(err)
	}
	dry, err := l.Purge(ctx, PurgeOptions{DryRun: true})
	if err != nil || len(dry.Purged) == 0 {
		t.Fatalf("dry run after key rotation: %v %+v", err, dry)
	}
	rep, err := l.Purge(ctx, PurgeOptions{})
	if err != nil || len(rep.Purged) != len(dry.Purged) {
		t.Fatalf("purge after key rotation: %v %+v", err, rep)
	}
	if _, err := l.Reader().Verify(ctx, VerifyOptions{Keys: []ed25519.PublicKey{oldPub, newKey.Public().(ed25519.PublicKey)}}); err != nil {
		t.Fatalf("verify after purge: %v", err)
	}
}
