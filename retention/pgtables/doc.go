// Package pgtables is a retention.Source over the application's own
// PostgreSQL tables: the application names, for each table, the record kind
// of its rows and the columns holding the subject ID, the record ID, the
// creation time and (optionally) the last-in-effect time.
//
// # What it guarantees
//
//   - Subjects are listed in byte order of their IDs (COLLATE "C"), the
//     order the Sweeper's cursor relies on, with every record of every
//     listed subject from every table.
//   - Table and column names are quoted as identifiers and every value is
//     a query parameter: nothing from the data reaches SQL text.
//
// # What it leaves to the caller
//
// Indexes: each table wants an index on its subject column (for example
// CREATE INDEX ON encounters ((patient_id::text) COLLATE "C")) so that
// listing a batch does not scan the table.
//
// # What it never does
//
// It only reads: it never deletes or changes the application's rows.
package pgtables
