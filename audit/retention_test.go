package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
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
	// a signed checkpoint after "c" proves when it was written (purges
	// decide by that, never by Event.Time)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
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
	if _, err := l.Purge(ctx, PurgeOptions{Retention: time.Minute}); !errors.Is(err, ErrRetentionTooShort) {
		t.Fatalf("a one-minute retention was accepted: %v", err)
	}
	rep, err = l.Purge(ctx, PurgeOptions{Retention: time.Minute, AllowRetentionBelowSixYears: true})
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
		o.PreviousKeys = mustKeySet(t, oldPub)
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
	if _, err := l.Reader().Verify(ctx, VerifyOptions{Keys: mustKeySet(t, oldPub, newKey.Public().(ed25519.PublicKey))}); err != nil {
		t.Fatalf("verify after purge: %v", err)
	}
}

// Events back-dated by their caller (Event.Time six years ago) but written
// now are kept six years from now: purges decide by when a record was
// written, never by the time its event claims.
func TestPurgeIgnoresBackdatedEventTime(t *testing.T) {
	dir := t.TempDir()
	now := testTime.AddDate(7, 0, 0)
	clk := clock.NewFake(now)
	l := openTestLog(t, dir, func(o *FileOptions) { o.Clock = clk; o.SegmentMaxBytes = 1 })
	defer l.Close()
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		e := sampleEvent(i)
		e.Time = testTime // seven years before now
		if err := l.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Purge(ctx, PurgeOptions{})
	if err != nil || len(rep.Purged) != 0 || rep.StoppedBy != PurgeStopRetention {
		t.Fatalf("back-dated events written now were purged: %v %+v", err, rep)
	}
	clk.Set(SixYearsAfter(now))
	rep, err = l.Purge(ctx, PurgeOptions{})
	if err != nil || rep.ThroughSeq != 4 || rep.StoppedBy != PurgeStopActive { // the active segment (record 5) stays
		t.Fatalf("six years after writing: %v %+v", err, rep)
	}
	// every purge ends with a signed checkpoint covering its record
	var purgeSeq uint64
	sealed := false
	for e, err := range l.Reader().Entries(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Record != nil && e.Record.Event.Action == ActionRetentionPurge {
			purgeSeq = e.Record.Seq
		}
		if c := e.Checkpoint; c != nil && purgeSeq > 0 && c.Seq == purgeSeq && c.Verify(testKeys(t).Keys.Keys()...) == nil {
			sealed = true
		}
	}
	if !sealed {
		t.Fatalf("no signed checkpoint covers the retention_purge record %d", purgeSeq)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts := testKeys(t)
	opts.RequireSealed = true
	if _, err := VerifyDir(ctx, dir, opts); err != nil {
		t.Fatalf("verify sealed after purge: %v", err)
	}
}

// One definition of six years: calendar years, February 29 rolling forward
// to March 1; a retention is at least six years only if it covers that.
func TestSixYears(t *testing.T) {
	leap := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	if got := SixYearsAfter(leap); !got.Equal(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("Feb 29 + 6y = %v", got)
	}
	now := time.Date(2030, 3, 1, 6, 0, 0, 0, time.UTC)
	if SixYearsPassed(leap, now) || !SixYearsPassed(leap, now.Add(6*time.Hour)) {
		t.Fatal("SixYearsPassed around a leap day")
	}
	// a Feb 29 record written before Mar 1 05:00 2024 may be due after it
	if RetentionPassedBefore(time.Date(2024, 3, 1, 5, 0, 0, 0, time.UTC), now, 0) {
		t.Fatal("a record of Feb 29, 2024 12:00 would be purged before Mar 1, 2030 12:00")
	}
	if !RetentionPassedBefore(time.Date(2024, 3, 1, 5, 0, 0, 0, time.UTC), time.Date(2030, 3, 2, 0, 0, 0, 0, time.UTC), 0) {
		t.Fatal("everything before Mar 1, 2024 05:00 is due on Mar 2, 2030")
	}
	if RetentionCoversSixYears(6*365*24*time.Hour, now) || !RetentionCoversSixYears(6*366*24*time.Hour, now) {
		t.Fatal("6x365 days is not six calendar years")
	}
}
