package pgmigrate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/hipaakittest"
)

// Several components migrating one empty schema at once, each from its own
// pool (process), all succeed: the bookkeeping table is created once and
// every migration is applied exactly once.
func TestComponentsMigrateOneEmptySchemaAtOnce(t *testing.T) {
	_, schema := hipaakittest.PostgresSchema(t)
	ms, err := Load(testFS, "testdata/a")
	if err != nil {
		t.Fatal(err)
	}
	const components, instances = 4, 3
	ctx := context.Background()
	var start, wg sync.WaitGroup
	start.Add(1)
	applied := make([]int, components*instances)
	errs := make([]error, components*instances)
	for i := range components * instances {
		pool := hipaakittest.PostgresPool(t, schema)
		// Each component has its own table: rename widgets per component.
		comp := fmt.Sprintf("c%d", i%components)
		cms := make([]Migration, len(ms))
		for j, m := range ms {
			cms[j] = m
			cms[j].SQL = strings.ReplaceAll(m.SQL, "widgets", "widgets_"+comp)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			applied[i], errs[i] = Apply(ctx, pool, comp, cms)
		}()
	}
	start.Done()
	wg.Wait()
	sum := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		sum += applied[i]
	}
	if sum != components*len(ms) {
		t.Fatalf("applied %d migrations in all, want %d", sum, components*len(ms))
	}
	var rows int
	if err := hipaakittest.PostgresPool(t, schema).QueryRow(ctx, "SELECT count(*) FROM hipaakit_migrations").Scan(&rows); err != nil || rows != components*len(ms) {
		t.Fatalf("hipaakit_migrations holds %d rows (%v), want %d", rows, err, components*len(ms))
	}
}
