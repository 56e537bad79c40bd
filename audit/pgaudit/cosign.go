package pgaudit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
)

// CosignatureStore keeps witness cosignatures of the format-v2 checkpoints
// in PostgreSQL (hipaakit_audit_cosignatures, schema version 4): one row
// per cosignature line, so that several processes publishing one stream
// store each line once and never overwrite one another. It implements
// witness.Store.
type CosignatureStore struct {
	pool *pgxpool.Pool
}

var _ witness.Store = (*CosignatureStore)(nil)

// NewCosignatureStore returns the store of the pool's schema.
func NewCosignatureStore(pool *pgxpool.Pool) *CosignatureStore { return &CosignatureStore{pool: pool} }

// SaveCosigned implements witness.Store: it stores each cosignature line
// of note (the lines after the log's own signature) once.
func (s *CosignatureStore) SaveCosigned(ctx context.Context, stream string, size uint64, note []byte) error {
	logNote, lines, err := splitCosigned(note)
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, l := range lines {
		b.Queue(`INSERT INTO hipaakit_audit_cosignatures (stream, size, note, line) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			stream, int64(size), logNote, l)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return dbErr("store cosignatures", err)
	}
	return nil
}

// LatestCosigned implements witness.Store: the newest cosigned checkpoint
// of stream with every cosignature line stored for that note.
func (s *CosignatureStore) LatestCosigned(ctx context.Context, stream string) ([]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT note, line FROM hipaakit_audit_cosignatures
		WHERE stream = $1 AND size = (SELECT max(size) FROM hipaakit_audit_cosignatures WHERE stream = $1)
		ORDER BY stored_at, line`, stream)
	if err != nil {
		return nil, dbErr("read cosignatures", err)
	}
	defer rows.Close()
	var note []byte
	var lines []string
	for rows.Next() {
		var n []byte
		var l string
		if err := rows.Scan(&n, &l); err != nil {
			return nil, dbErr("read cosignatures", err)
		}
		if note == nil {
			note = n
		}
		if bytes.Equal(n, note) {
			lines = append(lines, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read cosignatures", err)
	}
	if note == nil {
		return nil, fmt.Errorf("%w: pgaudit: stream %s", witness.ErrNoCosigned, stream)
	}
	out := append([]byte(nil), note...)
	for _, l := range lines {
		out = append(out, l...)
		out = append(out, '\n')
	}
	return out, nil
}

// splitCosigned splits a cosigned checkpoint into the log's signed note
// (through its first signature line) and the cosignature lines after it.
func splitCosigned(note []byte) ([]byte, []string, error) {
	i := bytes.Index(note, []byte("\n\n"))
	if i < 0 || !bytes.HasSuffix(note, []byte("\n")) {
		return nil, nil, fmt.Errorf("%w: pgaudit: cosigned checkpoint", audit.ErrMalformedNote)
	}
	sigs := strings.Split(strings.TrimSuffix(string(note[i+2:]), "\n"), "\n")
	if len(sigs) == 0 || !strings.HasPrefix(sigs[0], "— ") {
		return nil, nil, fmt.Errorf("%w: pgaudit: cosigned checkpoint", audit.ErrMalformedNote)
	}
	logNote := note[:i+2+len(sigs[0])+1]
	var lines []string
	for _, l := range sigs[1:] {
		if !strings.HasPrefix(l, "— ") || len(l) > 1024 {
			return nil, nil, errors.Join(audit.ErrMalformedNote, errors.New("pgaudit: cosignature line"))
		}
		lines = append(lines, l)
	}
	return logNote, lines, nil
}
