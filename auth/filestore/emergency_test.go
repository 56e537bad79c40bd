package filestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/filestore"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestFileEmergencyLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emergency.log")
	l, err := filestore.OpenEmergencyLog(path)
	if err != nil {
		t.Fatal(err)
	}
	a := auth.EmergencyAccess{ID: "acc1", UserID: "u1", SessionID: "s1", Role: "er", Reason: "r", StartedAt: t0, Until: t0.Add(time.Hour)}
	if err := l.PutEmergencyAccess(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.EndedAt, a.EndReason = t0.Add(time.Minute), "ended"
	if err := l.PutEmergencyAccess(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := filestore.OpenEmergencyLog(path); err == nil {
		t.Fatal("second open of a locked log")
	}
	l.Close()
	// A torn tail (crash mid-write) is dropped; the acknowledged records stay.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte(`{"v":1,"id":"acc2","us`))
	f.Close()
	l, err = filestore.OpenEmergencyLog(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := l.EmergencyAccesses(ctx, t0, t0.Add(time.Hour))
	if len(got) != 1 || got[0].EndReason != "ended" {
		t.Fatalf("after reopen: %+v", got)
	}
	b := a
	b.ID, b.StartedAt = "acc2", t0.Add(2*time.Minute)
	if err := l.PutEmergencyAccess(ctx, b); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = filestore.OpenEmergencyLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, _ := l.EmergencyAccesses(ctx, t0, t0.Add(time.Hour)); len(got) != 2 {
		t.Fatalf("after repair and append: %d records", len(got))
	}
}

func TestFileEmergencyLogGoldenAndCorrupt(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "emergency_v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "e.log")
	os.WriteFile(path, golden, 0o600)
	l, err := filestore.OpenEmergencyLog(path)
	if err != nil {
		t.Fatalf("golden v1 log: %v", err)
	}
	got, _ := l.EmergencyAccesses(context.Background(), time.Time{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	l.Close()
	if len(got) != 2 || got[0].ID != "8f0c1e2d3b4a59687766554433221100" || got[0].EndReason != "expired" || got[1].EndedAt.IsZero() == false {
		t.Fatalf("golden records: %+v", got)
	}
	for name, body := range map[string]string{
		"garbage line": "not json\n",
		"version 2":    `{"v":2,"id":"a","user_id":"u","started_at":"2026-01-01T00:00:00Z"}` + "\n",
		"unknown":      `{"v":1,"id":"a","user_id":"u","started_at":"2026-01-01T00:00:00Z","token":"x"}` + "\n",
	} {
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := filestore.OpenEmergencyLog(path); !errors.Is(err, filestore.ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}
