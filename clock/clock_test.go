package clock

import (
	"testing"
	"time"
)

func TestFakeAdvances(t *testing.T) {
	start := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	f := NewFake(start)
	if !f.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", f.Now(), start)
	}
	if got := f.Advance(15 * time.Minute); !got.Equal(start.Add(15 * time.Minute)) {
		t.Fatalf("Advance = %v", got)
	}
	f.Set(start)
	if !f.Now().Equal(start) {
		t.Fatalf("Set did not move the clock")
	}
}

func TestOrSystem(t *testing.T) {
	if OrSystem(nil) != System {
		t.Fatal("OrSystem(nil) is not System")
	}
	f := NewFake(time.Unix(0, 0))
	if OrSystem(f) != Clock(f) {
		t.Fatal("OrSystem did not keep the given clock")
	}
	if d := time.Since(System.Now()); d < 0 || d > time.Minute {
		t.Fatalf("System clock is off by %v", d)
	}
}
