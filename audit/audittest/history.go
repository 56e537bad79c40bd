package audittest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// HistoryHarness connects RunHistory to one audit.Trail over fresh, empty
// storage.
type HistoryHarness struct {
	// Trail is the trail under test: the history is read from it.
	Trail audit.Trail
	// Replica, if set, writes a second stream into the same storage, as
	// another process of the same deployment would; Trail must see its
	// records.
	Replica audit.Writer
}

// RunHistory runs the record-history conformance suite (audit.RecordHistory)
// against a trail: chain order, the field filter, outcomes, directory names,
// limits and, with a replica, the merge of several streams.
func RunHistory(t *testing.T, newHarness func(t *testing.T) HistoryHarness) {
	t.Run("ChainOrderAndFields", func(t *testing.T) { testHistoryOrder(t, newHarness(t)) })
	t.Run("LimitAndErrors", func(t *testing.T) { testHistoryLimit(t, newHarness(t)) })
	t.Run("Replicas", func(t *testing.T) {
		h := newHarness(t)
		if h.Replica == nil {
			t.Skip("the harness has no replica stream (one stream per storage)")
		}
		testHistoryReplicas(t, h)
	})
}

const historySubject = "subj-history-1"

var historyT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// change is a change event of historySubject's patient record.
func change(action audit.Action, field string, at time.Duration, actor string, newV, prior string) audit.Event {
	e := audit.Event{
		Time: historyT0.Add(at), Action: action, Outcome: audit.OutcomeSuccess,
		Actor:  audit.Actor{UserID: actor, TenantID: "t1", Role: "physician"},
		Origin: audit.Origin{Channel: audit.ChannelWeb, Route: "PUT /api/patients/{id}", RequestID: "req-" + field},
		Target: audit.Target{RecordType: "patient", RecordID: historySubject, Field: field, Subject: historySubject},
	}
	if newV != "" || prior != "" {
		e.Change = &audit.Change{New: []byte(newV), Prior: []byte(prior)}
	}
	return e
}

func mustWrite(t *testing.T, w audit.Writer, e audit.Event) {
	t.Helper()
	if err := w.Write(context.Background(), e); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

var directory = audit.DirectoryFunc(func(_ context.Context, id string) (string, bool, error) {
	switch id {
	case "u-alice":
		return "Alice Adams", true, nil
	case "u-bob":
		return "Bob Brown", true, nil
	}
	return "", false, nil
})

// summary is an entry as the tests compare it.
func summary(e audit.HistoryEntry) string {
	s := fmt.Sprintf("%s %s %s %s by %s(%s) at +%s", e.Action, e.Outcome, e.Field, e.Reason, e.Actor.UserID, e.ActorName,
		e.Time.Sub(historyT0))
	if e.Change != nil {
		s += fmt.Sprintf(" new=%q prior=%q", e.Change.New, e.Change.Prior)
	}
	return s
}

func expectHistory(t *testing.T, got audit.History, want ...string) {
	t.Helper()
	if len(got.Entries) != len(want) {
		for _, e := range got.Entries {
			t.Log(summary(e))
		}
		t.Fatalf("%d entries, want %d", len(got.Entries), len(want))
	}
	for i, e := range got.Entries {
		if s := summary(e); s != want[i] {
			t.Errorf("entry %d:\n got %s\nwant %s", i, s, want[i])
		}
	}
}

func testHistoryOrder(t *testing.T, h HistoryHarness) {
	ctx := context.Background()
	w := h.Trail
	mustWrite(t, w, change(audit.ActionCreate, "dob", 0, "u-alice", "sealed-dob-1", ""))
	mustWrite(t, w, change(audit.ActionCreate, "name", 0, "u-alice", "sealed-name-1", ""))
	// Not part of the history: a read, and another subject's change.
	read := change(audit.ActionRead, "dob", time.Second, "u-bob", "", "")
	mustWrite(t, w, read)
	other := change(audit.ActionUpdate, "dob", time.Second, "u-bob", "sealed-x", "sealed-y")
	other.Target.Subject, other.Target.RecordID = "subj-other", "subj-other"
	mustWrite(t, w, other)
	// Chained in this order, although the second update's time is earlier
	// (a request stamped when it started and recorded when it ended).
	mustWrite(t, w, change(audit.ActionUpdate, "dob", 3*time.Second, "u-bob", "sealed-dob-2", "sealed-dob-1"))
	mustWrite(t, w, change(audit.ActionUpdate, "dob", 2*time.Second, "u-alice", "sealed-dob-3", "sealed-dob-2"))
	failed := change(audit.ActionUpdate, "dob", 4*time.Second, "u-carol", "", "")
	failed.Outcome, failed.Reason = audit.OutcomeFailure, "conflict"
	mustWrite(t, w, failed)
	shred := audit.Event{Time: historyT0.Add(5 * time.Second), Action: audit.ActionShred, Outcome: audit.OutcomeSuccess,
		Reason: "keys_destroyed", Actor: audit.Actor{UserID: "u-bob"}, Target: audit.Target{Subject: historySubject}}
	mustWrite(t, w, shred)

	got, err := audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{Subject: historySubject, Field: "dob", Directory: directory})
	if err != nil {
		t.Fatalf("RecordHistory: %v", err)
	}
	expectHistory(t, got,
		`create success dob  by u-alice(Alice Adams) at +0s new="sealed-dob-1" prior=""`,
		`update success dob  by u-bob(Bob Brown) at +3s new="sealed-dob-2" prior="sealed-dob-1"`,
		`update success dob  by u-alice(Alice Adams) at +2s new="sealed-dob-3" prior="sealed-dob-2"`,
		`update failure dob conflict by u-carol() at +4s`,
		`shred success  keys_destroyed by u-bob(Bob Brown) at +5s`,
	)
	if got.Truncated {
		t.Error("Truncated without a limit reached")
	}
	e := got.Entries[1]
	if e.Channel != audit.ChannelWeb || e.Route != "PUT /api/patients/{id}" || e.RequestID != "req-dob" ||
		!e.HasNew || !e.HasPrior || e.Stream == "" || e.Seq == 0 || e.RecordType != "patient" || e.Subject != historySubject {
		t.Errorf("entry lacks how or where: %+v", e)
	}
	if got.Entries[0].HasPrior || !got.Entries[0].HasNew {
		t.Errorf("a create has a new value and no prior: %+v", got.Entries[0])
	}

	// The whole record: both fields, and the record ID selects as well.
	all, err := audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{RecordType: "patient", RecordID: historySubject})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Entries) != 5 || all.Entries[1].Field != "name" || all.Entries[1].ActorName != "" {
		t.Fatalf("record history: %d entries (want 5, the second the name, without a directory no names)", len(all.Entries))
	}
	// Outcome filter.
	fails, err := audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{Subject: historySubject, Outcome: audit.OutcomeFailure})
	if err != nil || len(fails.Entries) != 1 || fails.Entries[0].Reason != "conflict" {
		t.Fatalf("failures only: %v %d", err, len(fails.Entries))
	}
	// Other actions on request.
	reads, err := audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{Subject: historySubject, Actions: []audit.Action{audit.ActionRead}})
	if err != nil || len(reads.Entries) != 1 || reads.Entries[0].Action != audit.ActionRead {
		t.Fatalf("reads: %v %d", err, len(reads.Entries))
	}
}

func testHistoryLimit(t *testing.T, h HistoryHarness) {
	ctx := context.Background()
	for i := range 5 {
		mustWrite(t, h.Trail, change(audit.ActionUpdate, "zip", time.Duration(i)*time.Second, "u-alice", fmt.Sprint("n", i), fmt.Sprint("p", i)))
	}
	got, err := audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{Subject: historySubject, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 3 || !got.Truncated || got.Entries[2].Time != historyT0.Add(2*time.Second) {
		t.Fatalf("limit 3: %d entries, truncated %v", len(got.Entries), got.Truncated)
	}
	rest, err := audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{Subject: historySubject, Since: got.Entries[2].Time.Add(time.Nanosecond)})
	if err != nil || len(rest.Entries) != 2 || rest.Truncated {
		t.Fatalf("the rest: %v %d", err, len(rest.Entries))
	}
	exact, err := audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{Subject: historySubject, Limit: 5})
	if err != nil || len(exact.Entries) != 5 || exact.Truncated {
		t.Fatalf("limit 5 of 5: %v %d truncated %v", err, len(exact.Entries), exact.Truncated)
	}

	var fe *audit.FilterError
	for _, req := range []audit.HistoryRequest{
		{}, {Field: "zip"}, {Subject: historySubject, Limit: -1}, {Subject: historySubject, Limit: audit.MaxHistoryLimit + 1},
		{Subject: "bad\x00"}, {Subject: historySubject, Since: historyT0, Until: historyT0},
	} {
		if _, err := audit.RecordHistory(ctx, h.Trail, req); !errors.As(err, &fe) || !errors.Is(err, audit.ErrInvalidFilter) {
			t.Errorf("request %+v: %v, want a *FilterError", req, err)
		}
	}
	boom := errors.New("directory down")
	_, err = audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{Subject: historySubject,
		Directory: audit.DirectoryFunc(func(context.Context, string) (string, bool, error) { return "", false, boom })})
	var de *audit.DirectoryError
	if !errors.Is(err, audit.ErrDirectory) || !errors.Is(err, boom) || !errors.As(err, &de) || de.UserID != "u-alice" {
		t.Fatalf("a failing directory: %v", err)
	}
}

func testHistoryReplicas(t *testing.T, h HistoryHarness) {
	ctx := context.Background()
	// Two writers of one deployment interleave in time; each stream keeps
	// its chain order, and the streams merge by time.
	mustWrite(t, h.Trail, change(audit.ActionCreate, "dob", 0, "u-alice", "v0", ""))
	mustWrite(t, h.Replica, change(audit.ActionUpdate, "dob", 1*time.Second, "u-bob", "v1", "v0"))
	mustWrite(t, h.Trail, change(audit.ActionUpdate, "dob", 2*time.Second, "u-alice", "v2", "v1"))
	mustWrite(t, h.Replica, change(audit.ActionUpdate, "dob", 4*time.Second, "u-bob", "v4", "v2"))
	mustWrite(t, h.Replica, change(audit.ActionUpdate, "dob", 3*time.Second, "u-bob", "v3", "v4"))
	got, err := audit.RecordHistory(ctx, h.Trail, audit.HistoryRequest{Subject: historySubject, Directory: directory})
	if err != nil {
		t.Fatal(err)
	}
	expectHistory(t, got,
		`create success dob  by u-alice(Alice Adams) at +0s new="v0" prior=""`,
		`update success dob  by u-bob(Bob Brown) at +1s new="v1" prior="v0"`,
		`update success dob  by u-alice(Alice Adams) at +2s new="v2" prior="v1"`,
		`update success dob  by u-bob(Bob Brown) at +4s new="v4" prior="v2"`,
		`update success dob  by u-bob(Bob Brown) at +3s new="v3" prior="v4"`,
	)
	if got.Entries[0].Stream == got.Entries[1].Stream {
		t.Fatal("the replica wrote into the same stream")
	}
}
