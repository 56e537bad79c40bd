package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// patient is a stored patient record. Every PHI value is sealed by phi under
// the patient's own data key (subject = ID), bound to its field; the record
// holds no plaintext PHI. MRNIndex is the blind index of the MRN, for lookup.
type patient struct {
	ID          string            `json:"id"`
	Tenant      string            `json:"tenant"`
	MRNIndex    []byte            `json:"mrn_index"`
	Fields      map[string][]byte `json:"fields"`
	Notes       []entry           `json:"notes,omitempty"`
	Labs        []entry           `json:"labs,omitempty"`
	Vitals      []entry           `json:"vitals,omitempty"`
	CollectedBy string            `json:"collected_by"`
	Version     int64             `json:"version"`
	Created     time.Time         `json:"created"`
	Updated     time.Time         `json:"updated"`
}

// entry is a clinical note, lab result or vital sign; Value is sealed.
type entry struct {
	ID     string    `json:"id"`
	Author string    `json:"author"`
	Time   time.Time `json:"time"`
	Value  []byte    `json:"value"`
}

var (
	errNoPatient = errors.New("clinic: no such patient")
	errConflict  = errors.New("clinic: record changed concurrently; retry")
	errMRNTaken  = errors.New("clinic: a patient with that MRN exists")
	patientIDRe  = regexp.MustCompile(`^p[0-9a-f]{24}$`)
)

// validPatientID returns id when it is a well-formed patient ID, else "".
func validPatientID(id string) string {
	if patientIDRe.MatchString(id) {
		return id
	}
	return ""
}

func newID(prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic("clinic: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return prefix + hex.EncodeToString(b)
}

// recordStore keeps patient records. Put creates when prevVersion is 0 and
// otherwise replaces only the version read (errConflict if it moved).
// Delete removes a record only at the version given (errConflict if it
// moved); it undoes a create the trail could not record.
type recordStore interface {
	Get(ctx context.Context, id string) (patient, error)
	Put(ctx context.Context, p patient, prevVersion int64) error
	Delete(ctx context.Context, id string, version int64) error
	FindByMRN(ctx context.Context, mrnIndex []byte) (string, error)
	List(ctx context.Context) ([]string, error)
}

// fileRecords is the embedded default: one JSON file per patient.
type fileRecords struct {
	dir string
	mu  sync.Mutex
}

func newFileRecords(dir string) (*fileRecords, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("clinic: records directory: %w", err)
	}
	return &fileRecords{dir: dir}, nil
}

func (s *fileRecords) path(id string) (string, error) {
	if !patientIDRe.MatchString(id) {
		return "", errNoPatient
	}
	return filepath.Join(s.dir, id+".json"), nil
}

func (s *fileRecords) Get(_ context.Context, id string) (patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.get(id)
}

func (s *fileRecords) get(id string) (patient, error) {
	p, err := s.path(id)
	if err != nil {
		return patient{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return patient{}, errNoPatient
	}
	if err != nil {
		return patient{}, fmt.Errorf("clinic: read record: %w", err)
	}
	var rec patient
	if err := json.Unmarshal(b, &rec); err != nil {
		return patient{}, fmt.Errorf("clinic: record %s is corrupt", id)
	}
	return rec, nil
}

func (s *fileRecords) Put(_ context.Context, rec patient, prev int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.get(rec.ID)
	switch {
	case errors.Is(err, errNoPatient) && prev == 0:
	case err != nil:
		return err
	case cur.Version != prev:
		return errConflict
	}
	// The MRN index is unique: on create, and whenever an update changes it.
	if prev == 0 || !bytes.Equal(cur.MRNIndex, rec.MRNIndex) {
		if id, _ := s.findByMRN(rec.MRNIndex); id != "" && id != rec.ID {
			return errMRNTaken
		}
	}
	rec.Version = prev + 1
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	p, err := s.path(rec.ID)
	if err != nil {
		return err
	}
	return durable.WriteFileAtomic(p, b, 0o600)
}

func (s *fileRecords) Delete(_ context.Context, id string, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.get(id)
	if err != nil {
		return err
	}
	if cur.Version != version {
		return errConflict
	}
	p, err := s.path(id)
	if err != nil {
		return err
	}
	return durable.RemoveDurable(p)
}

func (s *fileRecords) FindByMRN(_ context.Context, idx []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.findByMRN(idx)
}

// findByMRN scans the records; an example's data set is small. A real
// service keeps the blind index in an indexed column, as pgRecords does.
func (s *fileRecords) findByMRN(idx []byte) (string, error) {
	ids, err := s.list()
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		rec, err := s.get(id)
		if err != nil {
			return "", err
		}
		if bytes.Equal(rec.MRNIndex, idx) {
			return id, nil
		}
	}
	return "", errNoPatient
}

func (s *fileRecords) List(_ context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list()
}

func (s *fileRecords) list() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("clinic: list records: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && patientIDRe.MatchString(id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// recordsTable is the PostgreSQL table of patient records.
const recordsTable = "clinic_patients"

// pgRecords keeps records in PostgreSQL, the blind index in a unique column.
type pgRecords struct{ pool *pgxpool.Pool }

func newPGRecords(ctx context.Context, pool *pgxpool.Pool) (*pgRecords, error) {
	_, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS clinic_patients (
		id        text PRIMARY KEY,
		mrn_index bytea NOT NULL UNIQUE,
		doc       jsonb NOT NULL,
		version   bigint NOT NULL)`)
	if err != nil {
		return nil, fmt.Errorf("clinic: create records table: %w", err)
	}
	return &pgRecords{pool: pool}, nil
}

func (s *pgRecords) Get(ctx context.Context, id string) (patient, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, "SELECT doc FROM clinic_patients WHERE id = $1", id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return patient{}, errNoPatient
	}
	if err != nil {
		return patient{}, fmt.Errorf("clinic: read record: %w", err)
	}
	var rec patient
	if err := json.Unmarshal(doc, &rec); err != nil {
		return patient{}, fmt.Errorf("clinic: record %s is corrupt", id)
	}
	return rec, nil
}

func (s *pgRecords) Put(ctx context.Context, rec patient, prev int64) error {
	rec.Version = prev + 1
	doc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if prev == 0 {
		_, err := s.pool.Exec(ctx, "INSERT INTO clinic_patients (id, mrn_index, doc, version) VALUES ($1, $2, $3, 1)", rec.ID, rec.MRNIndex, doc)
		if isMRNTaken(err) {
			return errMRNTaken
		}
		if err != nil {
			return fmt.Errorf("clinic: write record: %w", err)
		}
		return nil
	}
	tag, err := s.pool.Exec(ctx, "UPDATE clinic_patients SET doc = $2, version = $3, mrn_index = $5 WHERE id = $1 AND version = $4",
		rec.ID, doc, rec.Version, prev, rec.MRNIndex)
	if isMRNTaken(err) {
		return errMRNTaken
	}
	if err != nil {
		return fmt.Errorf("clinic: write record: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errConflict
	}
	return nil
}

func (s *pgRecords) Delete(ctx context.Context, id string, version int64) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM clinic_patients WHERE id = $1 AND version = $2", id, version)
	if err != nil {
		return fmt.Errorf("clinic: delete record: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errConflict
	}
	return nil
}

func (s *pgRecords) FindByMRN(ctx context.Context, idx []byte) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, "SELECT id FROM clinic_patients WHERE mrn_index = $1", idx).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errNoPatient
	}
	return id, err
}

func (s *pgRecords) List(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, "SELECT id FROM clinic_patients ORDER BY id")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// isMRNTaken reports a unique violation on the MRN index.
func isMRNTaken(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && strings.Contains(pgErr.ConstraintName, "mrn_index")
}
