package hipaakit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestLeaseTakenOver: a holder whose expired lease was taken over finds it
// at its next renewal and is not ready from then on, even though its
// clock says the lease is fresh; the successor renews.
func TestLeaseTakenOver(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	a := newLeases(pool, "a", 30*time.Second, clk.Now)
	b := newLeases(pool, "a", 30*time.Second, clk.Now)
	if err := a.acquire(ctx, "hipaakit-a"); err != nil {
		t.Fatal(err)
	}
	if err := b.acquire(ctx, "hipaakit-a"); !errors.Is(err, ErrStreamHeld) {
		t.Fatalf("b while a's lease lives: %v", err)
	}
	clk.Advance(31 * time.Second)
	if err := b.acquire(ctx, "hipaakit-a"); err != nil {
		t.Fatalf("b after a's lease expired: %v", err)
	}
	if err := a.renew(ctx); !errors.Is(err, ErrNotReady) {
		t.Fatalf("a renews a lease b holds: %v", err)
	}
	clk.Advance(time.Second)
	if err := a.check(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("a is ready after losing its lease: %v", err)
	}
	if err := b.renew(ctx); err != nil {
		t.Fatalf("b renews: %v", err)
	}
	if err := b.check(); err != nil {
		t.Fatalf("b: %v", err)
	}
	// a's release leaves b's lease alone.
	if err := a.release(); err != nil {
		t.Fatal(err)
	}
	if err := b.renew(ctx); err != nil {
		t.Fatalf("b after a released: %v", err)
	}
}
