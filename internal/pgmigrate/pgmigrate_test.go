package pgmigrate

import (
	"context"
	"embed"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/hipaakittest"
)

//go:embed testdata
var testFS embed.FS

func TestLoadRejectsGaps(t *testing.T) {
	if _, err := Load(testFS, "testdata/bad"); err == nil {
		t.Fatal("a gap in versions was accepted")
	}
	ms, err := Load(testFS, "testdata/a")
	if err != nil || len(ms) != 2 || ms[1].Version != 2 {
		t.Fatalf("Load = %+v, %v", ms, err)
	}
}

func TestApplyOnceUnderConcurrency(t *testing.T) {
	pool := hipaakittest.Postgres(t)
	ms, err := Load(testFS, "testdata/a")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	total := make([]int, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			total[i], errs[i] = Apply(ctx, pool, "widgets", ms)
		}()
	}
	wg.Wait()
	sum := 0
	for i := range 4 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		sum += total[i]
	}
	if sum != 2 {
		t.Fatalf("applied %d migrations in all, want 2", sum)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO widgets (id, name) VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	// A database newer than the code is refused.
	if _, err := Apply(ctx, pool, "widgets", ms[:1]); err == nil {
		t.Fatal("older code accepted a newer database")
	}
}
