package retentiontest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/retention"
)

// HoldStore runs the HoldStore contract against stores made by newStore;
// each call must return an empty store.
func HoldStore(t *testing.T, newStore func(t *testing.T) retention.HoldStore) {
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	hold := func(id, subject, kind string) retention.Hold {
		return retention.Hold{ID: id, Subject: subject, Kind: kind, Reason: "litigation 2026-17", SetBy: "user-1", SetAt: at}
	}

	t.Run("CreateListLift", func(t *testing.T) {
		s := newStore(t)
		if hs, err := s.List(ctx); err != nil || len(hs) != 0 {
			t.Fatalf("empty store lists %v, %v", hs, err)
		}
		for _, h := range []retention.Hold{hold("hold-b", "patient-1", ""), hold("hold-a", "", "lab"), hold("hold-c", "patient-2", "lab")} {
			if err := s.Create(ctx, h); err != nil {
				t.Fatalf("Create %s: %v", h.ID, err)
			}
		}
		if err := s.Create(ctx, hold("hold-a", "patient-9", "")); !errors.Is(err, retention.ErrHoldExists) {
			t.Fatalf("duplicate ID: %v", err)
		}
		hs, err := s.List(ctx)
		if err != nil || len(hs) != 3 || hs[0].ID != "hold-a" || hs[1].ID != "hold-b" || hs[2].ID != "hold-c" {
			t.Fatalf("List = %+v, %v", hs, err)
		}
		if got := hs[1]; got.Subject != "patient-1" || got.Kind != "" || got.Reason != "litigation 2026-17" || got.SetBy != "user-1" || !got.SetAt.Equal(at) || !got.Active() {
			t.Fatalf("stored hold %+v", got)
		}
		liftAt := at.Add(time.Hour)
		lifted, err := s.Lift(ctx, "hold-b", "user-2", "case closed", liftAt)
		if err != nil || lifted.Active() || lifted.LiftedBy != "user-2" || lifted.LiftReason != "case closed" || !lifted.LiftedAt.Equal(liftAt) {
			t.Fatalf("Lift = %+v, %v", lifted, err)
		}
		if _, err := s.Lift(ctx, "hold-b", "user-2", "again", liftAt); !errors.Is(err, retention.ErrHoldLifted) {
			t.Fatalf("lift twice: %v", err)
		}
		if _, err := s.Lift(ctx, "hold-zzz", "user-2", "x", liftAt); !errors.Is(err, retention.ErrHoldNotFound) {
			t.Fatalf("lift unknown: %v", err)
		}
		hs, _ = s.List(ctx)
		if len(hs) != 3 || hs[1].Active() || !hs[0].Active() {
			t.Fatalf("after lift: %+v", hs)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs <- s.Create(ctx, hold("hold-"+string(rune('a'+i)), "patient-1", ""))
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if hs, err := s.List(ctx); err != nil || len(hs) != 20 {
			t.Fatalf("%d holds after 20 concurrent creates (%v)", len(hs), err)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.List(cctx); err == nil {
			t.Fatal("List ignored a cancelled context")
		}
	})
}

// SweepState runs the SweepState contract. newState(t) returns a handle on
// the state of one fresh sweep; calling it again within the same test must
// return another handle on the same state (as another instance would use).
func SweepState(t *testing.T, newState func(t *testing.T) (first, second retention.SweepState)) {
	ctx := context.Background()
	t.Run("LockExcludesOtherInstances", func(t *testing.T) {
		a, b := newState(t)
		unlock, err := a.Lock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Lock(ctx); !errors.Is(err, retention.ErrSweepRunning) {
			t.Fatalf("second instance got %v, want ErrSweepRunning", err)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		if err := unlock(); err != nil {
			t.Fatalf("second unlock: %v", err)
		}
		unlockB, err := b.Lock(ctx)
		if err != nil {
			t.Fatalf("lock after release: %v", err)
		}
		unlockB()
	})
	t.Run("Cursor", func(t *testing.T) {
		a, b := newState(t)
		if c, err := a.Cursor(ctx); err != nil || c != "" {
			t.Fatalf("fresh cursor %q, %v", c, err)
		}
		for _, want := range []string{"patient-1", "patient-2", ""} {
			if err := a.SetCursor(ctx, want); err != nil {
				t.Fatal(err)
			}
			if c, err := b.Cursor(ctx); err != nil || c != want {
				t.Fatalf("cursor %q, %v; want %q", c, err, want)
			}
		}
	})
}

// Source runs the Source contract. newSource returns a Source holding
// exactly the given subjects and records (the suite's fixture; record IDs
// are unique per kind, times are whole microseconds in UTC).
func Source(t *testing.T, newSource func(t *testing.T, subjects []retention.Subject) retention.Source) {
	ctx := context.Background()
	at := func(d int) time.Time { return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	var fixture []retention.Subject
	for i := 0; i < 7; i++ {
		id := fmt.Sprintf("patient-%02d", i)
		s := retention.Subject{ID: id}
		for j := 0; j <= i%3; j++ {
			r := retention.Record{ID: fmt.Sprintf("%d", i*10+j), Kind: "encounter", Subject: id, Created: at(i + j)}
			if j == 1 {
				r.LastInEffect = at(100 + i)
			}
			s.Records = append(s.Records, r)
		}
		fixture = append(fixture, s)
	}

	t.Run("PagesInOrder", func(t *testing.T) {
		src := newSource(t, fixture)
		var got []retention.Subject
		after := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("source never ends")
			}
			page, err := src.Subjects(ctx, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 3 {
				t.Fatalf("page of %d subjects for limit 3", len(page))
			}
			got = append(got, page...)
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		if len(got) != len(fixture) {
			t.Fatalf("%d subjects, want %d", len(got), len(fixture))
		}
		for i, s := range got {
			want := fixture[i]
			if s.ID != want.ID || len(s.Records) != len(want.Records) {
				t.Fatalf("subject %d: %s with %d records, want %s with %d", i, s.ID, len(s.Records), want.ID, len(want.Records))
			}
			for _, w := range want.Records {
				found := false
				for _, r := range s.Records {
					if r.ID == w.ID && r.Kind == w.Kind && r.Created.Equal(w.Created) && r.LastInEffect.Equal(w.LastInEffect) {
						found = true
					}
				}
				if !found {
					t.Fatalf("subject %s lacks record %s (or its dates differ)", s.ID, w.ID)
				}
			}
		}
	})
	t.Run("AfterTheLast", func(t *testing.T) {
		src := newSource(t, fixture)
		page, err := src.Subjects(ctx, fixture[len(fixture)-1].ID, 10)
		if err != nil || len(page) != 0 {
			t.Fatalf("after the last subject: %v, %v", page, err)
		}
	})
}
