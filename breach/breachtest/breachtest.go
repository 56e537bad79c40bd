// Package breachtest is the conformance suite of breach.Store
// implementations: appends in sequence only, conflicts reported, entries
// read back byte-identical in order, sorted listings, durability across a
// reopen, and exactly one winner among concurrent appends of one sequence
// number.
package breachtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/breach"
)

// Store opens the store under test.
type Store struct {
	// New returns an empty store. Required.
	New func(t *testing.T) breach.Store
	// Reopen closes s (if it needs closing) and opens the same store
	// again. Required.
	Reopen func(t *testing.T, s breach.Store) breach.Store
}

// Entry returns a valid entry of incident id with sequence seq.
func Entry(id string, seq uint64, status string) breach.Entry {
	prior := ""
	if seq > 1 {
		prior = fmt.Sprintf("s%d", seq-1)
	}
	if status == "" {
		status = fmt.Sprintf("s%d", seq)
	}
	return breach.Entry{Incident: id, Seq: seq, At: time.Date(2026, 3, 2, 14, 0, int(seq), 0, time.UTC),
		By: breach.Actor{UserID: "u-officer", Role: "privacy_officer"}, Op: "update",
		Changes: []breach.Change{{Field: breach.FieldVector, Prior: prior, New: status}}}
}

// Run runs the suite.
func Run(t *testing.T, st Store) {
	ctx := context.Background()
	t.Run("AppendInSequence", func(t *testing.T) {
		s := st.New(t)
		if _, err := s.Entries(ctx, "INC-A1"); !errors.Is(err, breach.ErrNotFound) {
			t.Fatalf("Entries of an unknown incident: %v, want ErrNotFound", err)
		}
		for _, e := range []breach.Entry{Entry("INC-B2", 2, ""), Entry("INC-B2", 0, "")} {
			if err := s.Append(ctx, e); err == nil {
				t.Fatalf("Append seq %d to a new incident succeeded", e.Seq)
			}
		}
		for i := uint64(1); i <= 3; i++ {
			if err := s.Append(ctx, Entry("INC-B2", i, "")); err != nil {
				t.Fatalf("Append %d: %v", i, err)
			}
		}
		if err := s.Append(ctx, Entry("INC-B2", 3, "")); !errors.Is(err, breach.ErrConflict) {
			t.Fatalf("repeated seq: %v, want ErrConflict", err)
		}
		if err := s.Append(ctx, Entry("INC-B2", 5, "")); !errors.Is(err, breach.ErrConflict) {
			t.Fatalf("gap: %v, want ErrConflict", err)
		}
		if err := s.Append(ctx, Entry("INC-A1", 1, "")); err != nil {
			t.Fatal(err)
		}
		es, err := s.Entries(ctx, "INC-B2")
		if err != nil || len(es) != 3 {
			t.Fatalf("Entries: %d entries, %v; want 3", len(es), err)
		}
		for i, e := range es {
			want, _ := Entry("INC-B2", uint64(i+1), "").Marshal()
			got, _ := e.Marshal()
			if string(got) != string(want) {
				t.Fatalf("entry %d reads back as %s, want %s", i+1, got, want)
			}
		}
		ids, err := s.IDs(ctx)
		if err != nil || !slices.Equal(ids, []string{"INC-A1", "INC-B2"}) {
			t.Fatalf("IDs = %v, %v; want [INC-A1 INC-B2]", ids, err)
		}
		s = st.Reopen(t, s)
		es, err = s.Entries(ctx, "INC-B2")
		if err != nil || len(es) != 3 {
			t.Fatalf("after reopen: %d entries, %v; want 3", len(es), err)
		}
		if err := s.Append(ctx, Entry("INC-B2", 4, "")); err != nil {
			t.Fatalf("append after reopen: %v", err)
		}
	})
	t.Run("InvalidEntryRefused", func(t *testing.T) {
		s := st.New(t)
		e := Entry("INC-C3", 1, "")
		e.Changes[0].New = "call 555 123 4567"
		if err := s.Append(ctx, e); !errors.Is(err, breach.ErrPHIText) {
			t.Fatalf("entry with PHI-like text: %v, want ErrPHIText", err)
		}
		if _, err := s.Entries(ctx, "INC-C3"); !errors.Is(err, breach.ErrNotFound) {
			t.Fatalf("refused entry was stored: %v", err)
		}
	})
	t.Run("ConcurrentAppendsOneWinner", func(t *testing.T) {
		s := st.New(t)
		if err := s.Append(ctx, Entry("INC-D4", 1, "")); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.Append(ctx, Entry("INC-D4", 2, fmt.Sprintf("w%d", i)))
			}()
		}
		close(start)
		wg.Wait()
		won, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, breach.ErrConflict):
				conflicts++
			default:
				t.Errorf("append: %v", err)
			}
		}
		if won != 1 || conflicts != n-1 {
			t.Fatalf("%d appends won and %d conflicted, want 1 and %d", won, conflicts, n-1)
		}
		es, err := s.Entries(ctx, "INC-D4")
		if err != nil || len(es) != 2 {
			t.Fatalf("%d entries, %v; want 2", len(es), err)
		}
	})
}
