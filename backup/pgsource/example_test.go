package pgsource_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
)

// ExampleSource backs up the "clinic" schema from one snapshot, then drills
// the backup in a scratch schema.
func ExampleSource() {
	ctx := context.Background()
	var repo *backup.Repository // from backup.Open
	pool, err := pgxpool.New(ctx, "postgres://backup@db.internal/clinic")
	if err != nil {
		log.Fatal(err)
	}
	m, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: "clinic"})
	if err != nil {
		log.Fatal(err)
	}
	rep, err := repo.Drill(ctx, backup.DrillOptions{ID: m.ID, Sink: pgsource.NewScratchSink(pool)})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("drill pass=%v rto=%s", rep.Pass, rep.RTO)
}
