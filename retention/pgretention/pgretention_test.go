package pgretention_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
	"github.com/hipaakit/hipaakit/retention/retentiontest"
)

func TestHoldStoreConformance(t *testing.T) {
	retentiontest.HoldStore(t, func(t *testing.T) retention.HoldStore {
		pool := hipaakittest.Postgres(t)
		if err := pgretention.Migrate(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		return pgretention.NewHoldStore(pool)
	})
}

func TestSweepStateLockAndCursor(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgretention.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := pgretention.Migrate(ctx, pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	a := pgretention.NewSweepState(pool, "default")
	b := pgretention.NewSweepState(pool, "default")
	unlock, err := a.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx); !errors.Is(err, retention.ErrSweepRunning) {
		t.Fatalf("second instance: %v", err)
	}
	// Another sweep name is independent.
	u2, err := pgretention.NewSweepState(pool, "audit").Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u2()
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlockB, err := b.Lock(ctx)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	defer unlockB()

	if c, err := a.Cursor(ctx); err != nil || c != "" {
		t.Fatalf("initial cursor %q %v", c, err)
	}
	if err := a.SetCursor(ctx, "patient-9"); err != nil {
		t.Fatal(err)
	}
	if c, err := b.Cursor(ctx); err != nil || c != "patient-9" {
		t.Fatalf("cursor %q %v", c, err)
	}
}

func TestSweepStateConformance(t *testing.T) {
	retentiontest.SweepState(t, func(t *testing.T) (retention.SweepState, retention.SweepState) {
		pool := hipaakittest.Postgres(t)
		if err := pgretention.Migrate(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		return pgretention.NewSweepState(pool, "s"), pgretention.NewSweepState(pool, "s")
	})
}
