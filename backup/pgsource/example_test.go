package pgsource_test

import (
	"context"
	"errors"
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

// ExampleObjectError: a schema function or trigger that a restore could not
// recreate faithfully fails the backup and is named; a backup made before
// functions and triggers were backed up is refused on restore unless
// allowed.
func ExampleObjectError() {
	ctx := context.Background()
	var repo *backup.Repository // from backup.Open
	var pool *pgxpool.Pool
	_, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: "clinic"})
	if oe, ok := errors.AsType[*pgsource.ObjectError](err); ok {
		log.Fatalf("cannot back up %s %s: %s", oe.Kind, oe.Name, oe.Reason)
	}
	sink := pgsource.NewSink(pool, "clinic_restored")
	_, err = repo.Restore(ctx, "0123456789abcdef0123456789abcdef", sink, backup.RestoreOptions{})
	if errors.Is(err, pgsource.ErrWithoutRoutines) {
		log.Print("old backup: recreate the functions and triggers, then restore with AllowWithoutRoutines")
	}
}
