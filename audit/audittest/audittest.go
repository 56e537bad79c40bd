// Package audittest is the conformance suite for audit.Writer
// implementations: hipaakit runs it against its file and PostgreSQL
// writers, and users run it against their own. It also holds Memory, the
// in-memory recorder that tests of code writing audit events use (hipaakit's
// own tests included): it chains and validates like a real writer, can be
// made to fail, and answers what was written (Events, EventsWith, Actions,
// Last); its zero value is ready to use.
//
// # What it checks
//
//   - Durability contract: every Write that returned nil is stored, exactly
//     once, with the event as written (hostile strings byte for byte, sealed
//     bytes unchanged) and a UTC time set when the event had none; and after
//     Reopen (when the harness supports it) it is still there.
//   - Fail closed: an invalid event is refused with audit.ErrInvalidEvent
//     and not stored; a Write that returned an error is never required, and
//     a Write that returned nil is always required, to be stored.
//   - Concurrency: concurrent writers all succeed and every event is stored
//     once.
//   - Chain: per stream, sequence numbers run 1, 2, 3, ... without gaps,
//     every record links to its predecessor, and every checkpoint the
//     writer stored verifies under the harness's keys (audit.Verify).
//   - Record history (RunHistory, over an audit.Trail): chain order per
//     stream, streams merged by time, the field filter, failures listed,
//     directory names, limits and typed errors.
//
// # What it leaves to the caller
//
// The harness: how to build a fresh, empty writer and how to read back
// what it stored. Tests that need a server (PostgreSQL) skip in the
// caller's newHarness, not here.
package audittest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

// Harness connects the suite to one Writer implementation over fresh,
// empty storage.
type Harness struct {
	// Writer is the writer under test.
	Writer audit.Writer
	// Entries reads back everything stored: per stream, records in sequence
	// order, each checkpoint after the record it covers (streams may
	// interleave). It must see every acknowledged Write.
	Entries func(ctx context.Context) iter.Seq2[audit.Entry, error]
	// Keys verify the writer's checkpoints. A writer that stores
	// checkpoints must supply them.
	Keys signing.KeySet
	// Close, if set, releases the writer; the suite calls it once at the
	// end of each test (after Reopen, on the reopened harness).
	Close func() error
	// Reopen, if set, closes the writer and returns a harness over the same
	// storage, as a restarted process would see it.
	Reopen func(t *testing.T) Harness
}

// Run runs the conformance suite. newHarness is called once per subtest and
// must return a writer over fresh, empty storage.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("WriteReadBack", func(t *testing.T) { testWriteReadBack(t, newHarness) })
	t.Run("SetsTimeWhenZero", func(t *testing.T) { testSetsTime(t, newHarness) })
	t.Run("RejectsInvalidEvent", func(t *testing.T) { testRejectsInvalid(t, newHarness) })
	t.Run("HostileStrings", func(t *testing.T) { testHostileStrings(t, newHarness) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, newHarness) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newHarness) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, newHarness) })
}

// Event returns a complete, valid event whose Target.RecordID is id, for
// implementations' own tests.
func Event(id string) audit.Event {
	return audit.Event{
		Time:    time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC),
		Action:  audit.ActionUpdate,
		Outcome: audit.OutcomeSuccess,
		Reason:  "ok",
		Purpose: "treatment",
		Actor:   audit.Actor{UserID: "user-1", TenantID: "tenant-1", Role: "nurse", SessionID: "sess-1", Emergency: true, EmergencyReason: "code blue"},
		Origin:  audit.Origin{Channel: audit.ChannelAPI, ClientIP: "192.0.2.7", UserAgent: "suite/1", RequestID: "req-" + id, Route: "PUT /patients/{id}"},
		Target:  audit.Target{RecordType: "patient", RecordID: id, Field: "dob", Subject: "subject-1"},
		Change:  &audit.Change{New: []byte{0, 1, 2, 3, 0xff}, Prior: []byte("sealed-prior")},
		Attrs:   map[string]string{"k": "v", "n": "2"},
	}
}

func open(t *testing.T, newHarness func(t *testing.T) Harness) *Harness {
	t.Helper()
	h := newHarness(t)
	if h.Writer == nil || h.Entries == nil {
		t.Fatal("audittest: Harness needs Writer and Entries")
	}
	t.Cleanup(func() {
		if h.Close != nil {
			if err := h.Close(); err != nil && !errors.Is(err, audit.ErrClosed) {
				t.Errorf("close: %v", err)
			}
		}
	})
	return &h
}

// readAll reads every record, verifies the chains and checkpoints, and
// returns the records by RecordID (failing on duplicates).
func readAll(t *testing.T, h *Harness) map[string]audit.Record {
	t.Helper()
	ctx := context.Background()
	if _, err := audit.Verify(ctx, h.Entries(ctx), audit.VerifyOptions{Keys: h.Keys}); err != nil {
		t.Fatalf("stored chain does not verify: %v", err)
	}
	out := map[string]audit.Record{}
	for e, err := range h.Entries(ctx) {
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if e.Record == nil {
			continue
		}
		id := e.Record.Event.Target.RecordID
		if id == "" {
			continue // records the writer adds itself
		}
		if _, dup := out[id]; dup {
			t.Fatalf("event %s stored twice", id)
		}
		out[id] = *e.Record
	}
	return out
}

func write(t *testing.T, h *Harness, e audit.Event) {
	t.Helper()
	if err := h.Writer.Write(context.Background(), e); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func testWriteReadBack(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := open(t, newHarness)
	want := Event("wrb-1")
	write(t, h, want)
	got, ok := readAll(t, h)["wrb-1"]
	if !ok {
		t.Fatal("acknowledged event not stored")
	}
	if err := sameEvent(got.Event, want); err != nil {
		t.Fatal(err)
	}
	if got.Seq == 0 || got.Stream == "" {
		t.Fatalf("record without stream or sequence number: %q %d", got.Stream, got.Seq)
	}
}

func testSetsTime(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := open(t, newHarness)
	e := Event("time-1")
	e.Time = time.Time{}
	write(t, h, e)
	got := readAll(t, h)["time-1"]
	if got.Event.Time.IsZero() || got.Event.Time.Location() != time.UTC {
		t.Fatalf("stored time %v: want a UTC time set by the writer", got.Event.Time)
	}
}

func testRejectsInvalid(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := open(t, newHarness)
	bad := []func(*audit.Event){
		func(e *audit.Event) { e.Action = "Not An Action" },
		func(e *audit.Event) { e.Outcome = "perhaps" },
		func(e *audit.Event) { e.Target.Field = "\xff\xfe" },
		func(e *audit.Event) { e.Origin.UserAgent = string(make([]byte, audit.MaxStringLen+1)) },
	}
	for i, mut := range bad {
		e := Event(fmt.Sprintf("invalid-%d", i))
		mut(&e)
		if err := h.Writer.Write(context.Background(), e); !errors.Is(err, audit.ErrInvalidEvent) {
			t.Errorf("invalid event %d: got %v, want ErrInvalidEvent", i, err)
		}
	}
	write(t, h, Event("valid-after"))
	got := readAll(t, h)
	for i := range bad {
		if _, ok := got[fmt.Sprintf("invalid-%d", i)]; ok {
			t.Errorf("invalid event %d was stored", i)
		}
	}
	if _, ok := got["valid-after"]; !ok {
		t.Error("valid event after invalid ones not stored")
	}
}

func testHostileStrings(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := open(t, newHarness)
	hostile := "x\"}\n{\"action\":\"forged\"}\r\n\t\x00\x01\x1b[31m\x7f\\ ' % _ ; DROP TABLE audit; -- \u2028ü😀"
	e := Event("hostile-1")
	e.Origin.UserAgent = hostile
	e.Reason = hostile
	e.Attrs = map[string]string{"note": hostile}
	write(t, h, e)
	got := readAll(t, h)
	if len(got) != 1 {
		t.Fatalf("hostile strings produced %d events", len(got))
	}
	if err := sameEvent(got["hostile-1"].Event, e); err != nil {
		t.Fatal(err)
	}
}

func testCanceled(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := open(t, newHarness)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := h.Writer.Write(ctx, Event("canceled-1"))
	_, stored := readAll(t, h)["canceled-1"]
	if err == nil && !stored {
		t.Fatal("Write returned nil but the event is not stored")
	}
}

func testConcurrent(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := open(t, newHarness)
	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := h.Writer.Write(context.Background(), Event(fmt.Sprintf("c-%d-%d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent write: %v", err)
	}
	got := readAll(t, h)
	for w := 0; w < writers; w++ {
		for i := 0; i < each; i++ {
			if _, ok := got[fmt.Sprintf("c-%d-%d", w, i)]; !ok {
				t.Fatalf("acknowledged event c-%d-%d missing", w, i)
			}
		}
	}
}

func testReopen(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := open(t, newHarness)
	if h.Reopen == nil {
		t.Log("harness has no Reopen; restart durability not checked")
		return
	}
	write(t, h, Event("before-1"))
	write(t, h, Event("before-2"))
	h2 := h.Reopen(t)
	h.Close = nil // the reopened harness owns the storage now
	*h = h2
	write(t, h, Event("after-1"))
	got := readAll(t, h)
	for _, id := range []string{"before-1", "before-2", "after-1"} {
		if _, ok := got[id]; !ok {
			t.Fatalf("event %s missing after reopen", id)
		}
	}
	if a, b := got["before-2"], got["after-1"]; a.Stream == b.Stream && b.Seq <= a.Seq {
		t.Fatalf("sequence went backwards across reopen: %d then %d", a.Seq, b.Seq)
	}
}

// sameEvent compares a stored event with the one written (times in UTC,
// empty and nil attrs and change bytes alike).
func sameEvent(got, want audit.Event) error {
	if !got.Time.Equal(want.Time) {
		return fmt.Errorf("audittest: stored time differs")
	}
	g, w := got, want
	g.Time, w.Time = time.Time{}, time.Time{}
	g.Attrs, w.Attrs = nil, nil
	g.Change, w.Change = nil, nil
	if !reflect.DeepEqual(g, w) {
		return fmt.Errorf("audittest: stored event differs from the one written")
	}
	if len(got.Attrs) != len(want.Attrs) {
		return fmt.Errorf("audittest: stored attrs differ")
	}
	for k, v := range want.Attrs {
		if got.Attrs[k] != v {
			return fmt.Errorf("audittest: stored attr %q differs", k)
		}
	}
	gc, wc := got.Change, want.Change
	if gc == nil {
		gc = &audit.Change{}
	}
	if wc == nil {
		wc = &audit.Change{}
	}
	if string(gc.New) != string(wc.New) || string(gc.Prior) != string(wc.Prior) {
		return fmt.Errorf("audittest: stored change differs")
	}
	return nil
}
