package hipaakit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
)

// countingTarget is an archive target that counts how often each unit
// manifest is written.
type countingTarget struct {
	*archive.MemoryTarget
	mu    sync.Mutex
	units map[string]int
}

func newCountingTarget(clk interface{ Now() time.Time }) *countingTarget {
	return &countingTarget{MemoryTarget: &archive.MemoryTarget{Clock: clk}, units: map[string]int{}}
}

func (c *countingTarget) count(name string) {
	if strings.Contains(name, "/unit/") {
		c.mu.Lock()
		c.units[name]++
		c.mu.Unlock()
	}
}

func (c *countingTarget) Put(ctx context.Context, name string, data []byte) error {
	c.count(name)
	return c.MemoryTarget.Put(ctx, name, data)
}

func (c *countingTarget) PutRetained(ctx context.Context, name string, data []byte, until time.Time) error {
	c.count(name)
	return c.MemoryTarget.PutRetained(ctx, name, data, until)
}

// TestAuditArchiveEmbedded: with Config.AuditArchive.Dir, the housekeeping
// pass archives the embedded log's sealed segment once it is older than
// After, into the directory, where it verifies on its own; a young segment
// stays, and a second pass writes nothing.
func TestAuditArchiveEmbedded(t *testing.T) {
	ctx := context.Background()
	cfg, clk := embedded(t, nil)
	cfg.AuditArchive = hipaakit.AuditArchiveConfig{Dir: t.TempDir(), After: 24 * time.Hour}
	d := open(t, cfg)
	login(t, d, clk, "alice")
	clk.Advance(25 * time.Hour) // the next write starts a new segment (SegmentMaxAge)
	login(t, d, clk, "bob")
	if _, err := d.Audit.(checkpointer).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := d.AuditArchive()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sweep(ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if units, err := a.Units(ctx, audit.DefaultStream); err != nil || len(units) != 0 {
		t.Fatalf("a segment younger than After was archived: %d units, %v", len(units), err)
	}
	clk.Advance(25 * time.Hour)
	if _, err := d.Sweep(ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	units, err := a.Units(ctx, audit.DefaultStream)
	if err != nil || len(units) != 1 || units[0].First != 1 {
		t.Fatalf("units: %+v %v", units, err)
	}
	if res, err := a.Verify(ctx, audit.DefaultStream); err != nil || res.Last != units[0].Last {
		t.Fatalf("the archive does not verify: %+v %v", res, err)
	}
	if _, err := d.Sweep(ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if again, _ := a.Units(ctx, audit.DefaultStream); len(again) != 1 {
		t.Fatalf("a second pass archived again: %d units", len(again))
	}
}

// TestAuditArchiveReplicas: a stream written over three months by a
// replica that is gone is archived by four replicas' housekeeping passes
// at once (behind a barrier): the two months a later one follows are
// archived, each unit written exactly once, and the archive verifies.
func TestAuditArchiveReplicas(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	months := []time.Time{t0, t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0)}
	for _, m := range months {
		s.clk.Set(m)
		d, err := hipaakit.Open(ctx, s.config("gone"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if err := d.Audit.Write(ctx, testEvent(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Close(); err != nil { // signs a checkpoint in this month
			t.Fatal(err)
		}
	}
	s.clk.Set(t0.AddDate(0, 3, 0))
	tgt := newCountingTarget(s.clk)
	const n = 4
	ds := make([]*hipaakit.Deployment, n)
	for i := range n {
		cfg := s.config(fmt.Sprintf("api-%d", i))
		cfg.AuditArchive = hipaakit.AuditArchiveConfig{Target: tgt, After: 24 * time.Hour}
		ds[i] = open(t, cfg)
	}
	var start, done sync.WaitGroup
	start.Add(1)
	errs := make([]error, n)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			_, errs[i] = ds[i].Sweep(ctx)
		}()
	}
	start.Done()
	done.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	// a pass after the race finds everything archived
	for _, d := range ds {
		if _, err := d.Sweep(ctx); err != nil {
			t.Fatalf("Sweep: %v", err)
		}
	}
	a, _ := ds[0].AuditArchive()
	units, err := a.Units(ctx, "hipaakit-gone")
	if err != nil || len(units) != 2 {
		t.Fatalf("units: %+v %v", units, err)
	}
	if len(tgt.units) != 2 {
		t.Fatalf("unit manifests written: %v", tgt.units)
	}
	for name, c := range tgt.units {
		if c != 1 {
			t.Fatalf("unit %s written %d times", name, c)
		}
	}
	if res, err := a.Verify(ctx, "hipaakit-gone"); err != nil || res.Last != units[1].Last {
		t.Fatalf("the archive does not verify: %+v %v", res, err)
	}
}
