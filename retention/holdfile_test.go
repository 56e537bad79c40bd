package retention_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/retentiontest"
)

func TestFileHoldStoreConformance(t *testing.T) {
	retentiontest.HoldStore(t, func(t *testing.T) retention.HoldStore {
		s, err := retention.OpenFileHoldStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Two stores on one directory (two processes) see each other's holds.
func TestFileHoldStoreSharedDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, _ := retention.OpenFileHoldStore(dir)
	b, _ := retention.OpenFileHoldStore(dir)
	ra, err := retention.NewRegistry(retention.RegistryConfig{Holds: a, Audit: audit.Discard{}})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := retention.NewRegistry(retention.RegistryConfig{Holds: b, Audit: audit.Discard{}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ra.Set(ctx, retention.HoldRequest{Subject: "patient-1", Reason: "subpoena", SetBy: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if held, got, err := rb.IsHeld(ctx, "patient-1", "encounter"); err != nil || !held || got.ID != h.ID {
		t.Fatalf("other store: %v %+v %v", held, got, err)
	}
}

func TestHoldFileGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "holds_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := retention.ParseHolds(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].ID != "hold-0011223344556677" || hs[0].Subject != "patient-7f3a" || !hs[0].Active() ||
		hs[1].Kind != "encounter" || hs[1].Active() || hs[1].LiftedBy != "user-9" ||
		!hs[1].LiftedAt.Equal(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("golden holds decoded as %+v", hs)
	}
	// A store over the golden file answers from it.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "holds.json"), data, 0o600)
	s, _ := retention.OpenFileHoldStore(dir)
	held, h, err := registry(t, s).IsHeld(context.Background(), "patient-7f3a", "")
	if err != nil || !held || h.ID != "hold-0011223344556677" {
		t.Fatalf("IsHeld over golden file: %v %+v %v", held, h, err)
	}
}

func TestParseHoldsRejects(t *testing.T) {
	good, _ := os.ReadFile(filepath.Join("testdata", "holds_v1.json"))
	cases := map[string]struct {
		data string
		want error
	}{
		"empty":          {"", retention.ErrCorruptHolds},
		"other format":   {`{"format":"x","version":1}`, retention.ErrCorruptHolds},
		"future version": {strings.Replace(string(good), `"version": 1`, `"version": 2`, 1), retention.ErrUnsupportedVersion},
		"unknown field":  {strings.Replace(string(good), `"set_by"`, `"x": 1, "set_by"`, 1), retention.ErrCorruptHolds},
		"no scope":       {strings.Replace(string(good), `"subject": "patient-7f3a",`, ``, 1), retention.ErrCorruptHolds},
		"unsorted":       {strings.Replace(string(good), `hold-0011223344556677`, `hold-ffff`, 1), retention.ErrCorruptHolds},
		"trailing data":  {string(good) + "{}", retention.ErrCorruptHolds},
	}
	for name, tc := range cases {
		if _, err := retention.ParseHolds([]byte(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A corrupt file makes the registry fail closed.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "holds.json"), []byte("{garbage"), 0o600)
	s, _ := retention.OpenFileHoldStore(dir)
	if _, _, err := registry(t, s).IsHeld(context.Background(), "patient-1", ""); !errors.Is(err, retention.ErrCorruptHolds) {
		t.Fatalf("IsHeld over corrupt file: %v", err)
	}
}

func FuzzParseHolds(f *testing.F) {
	good, _ := os.ReadFile(filepath.Join("testdata", "holds_v1.json"))
	f.Add(good)
	f.Add([]byte(`{"format":"hipaakit-legal-holds","version":1,"holds":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := retention.ParseHolds(data)
		if err != nil {
			if !errors.Is(err, retention.ErrCorruptHolds) && !errors.Is(err, retention.ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for i := 1; i < len(hs); i++ {
			if hs[i-1].ID >= hs[i].ID {
				t.Fatal("accepted unsorted holds")
			}
		}
	})
}

func TestRegistryAuditsAndValidates(t *testing.T) {
	ctx := context.Background()
	s, _ := retention.OpenFileHoldStore(t.TempDir())
	w := &audittest.Memory{}
	fc := clock.NewFake(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	r, err := retention.NewRegistry(retention.RegistryConfig{Holds: s, Audit: w, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}

	for _, bad := range []retention.HoldRequest{
		{Reason: "r", SetBy: "u"},
		{Subject: "patient-1", SetBy: "u"},
		{Subject: "patient-1", Reason: "r"},
		{Subject: "_system", Reason: "r", SetBy: "u"},
		{Kind: "Bad Kind", Reason: "r", SetBy: "u"},
		{Subject: "patient-1", Reason: "a\nb", SetBy: "u"},
	} {
		if _, err := r.Set(ctx, bad); !errors.Is(err, retention.ErrInvalidHold) {
			t.Errorf("Set(%+v) = %v", bad, err)
		}
	}
	h, err := r.Set(ctx, retention.HoldRequest{Kind: "lab", Reason: "tax audit", SetBy: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	events := w.Events()
	if len(events) != 1 || events[0].Action != audit.ActionLegalHold || events[0].Attrs["op"] != "set" || events[0].Target.RecordID != h.ID || events[0].Actor.UserID != "user-1" {
		t.Fatalf("set not audited: %+v", events)
	}
	if held, _, _ := r.SubjectHold(ctx, "patient-1", nil); !held {
		t.Fatal("a kind hold must block a shred whose kinds are unknown")
	}
	if held, _, _ := r.SubjectHold(ctx, "patient-1", []string{"encounter"}); held {
		t.Fatal("a lab hold blocked a subject with encounters only")
	}
	if held, id, _ := r.SubjectHold(ctx, "patient-1", []string{"encounter", "lab"}); !held || id != h.ID {
		t.Fatal("a lab hold did not block a subject with lab records")
	}

	// Lift is audited first: when the audit fails, the hold stays.
	failing, err := retention.NewRegistry(retention.RegistryConfig{Holds: s, Audit: audit.WriterFunc(func(context.Context, audit.Event) error { return errors.New("down") }), Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := failing.Lift(ctx, h.ID, "user-2", "done"); err == nil {
		t.Fatal("lift without audit succeeded")
	}
	if act, _ := r.Active(ctx); len(act) != 1 {
		t.Fatal("hold lifted although the audit failed")
	}
	fc.Advance(time.Hour)
	lifted, err := r.Lift(ctx, h.ID, "user-2", "done")
	if err != nil || lifted.Active() || !lifted.LiftedAt.Equal(fc.Now()) {
		t.Fatalf("Lift = %+v, %v", lifted, err)
	}
	if events = w.Events(); len(events) != 2 || events[1].Attrs["op"] != "lift" || events[1].Actor.UserID != "user-2" {
		t.Fatalf("lift not audited: %+v", events)
	}
	if held, _, _ := r.IsHeld(ctx, "", ""); held {
		t.Fatal("lifted hold still holds")
	}
	all, _ := r.List(ctx)
	if len(all) != 1 {
		t.Fatal("lifted hold was deleted")
	}
	if _, err := r.Lift(ctx, "hold-nope", "u", "r"); !errors.Is(err, retention.ErrHoldNotFound) {
		t.Fatal(err)
	}
}

// registry returns a Registry over s that audits nowhere.
func registry(t *testing.T, s retention.HoldStore) *retention.Registry {
	t.Helper()
	r, err := retention.NewRegistry(retention.RegistryConfig{Holds: s, Audit: audit.Discard{}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
