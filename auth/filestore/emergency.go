package filestore

import (
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/internal/memindex"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/durable"
)

// emergencyLogVersion is the version of each emergency log line.
const emergencyLogVersion = 1

// maxEmergencyLine bounds one line of the emergency log.
const maxEmergencyLine = 8 << 10

// auth.EmergencyLog is the embedded default EmergencyLog: an append-only file
// of JSON lines, one per change of a record (start, then end), each
// {"v":1, ...EmergencyAccess fields}, fsynced before PutEmergencyAccess
// returns. The latest line for an ID wins. A last line cut short by a crash
// is dropped when the file is opened (it was never acknowledged); any other
// malformed line makes Open fail with ErrCorrupt.
type EmergencyLog struct {
	mu   sync.Mutex
	f    *os.File
	lock *durable.Lock
	size int64 // bytes of complete, acknowledged lines
	m    map[string]auth.EmergencyAccess
}

var _ auth.EmergencyLog = (*EmergencyLog)(nil)

type emergencyLine struct {
	V int `json:"v"`
	auth.EmergencyAccess
}

// decodeEmergencyLine parses one log line. Errors never quote the input.
func decodeEmergencyLine(b []byte) (auth.EmergencyAccess, error) {
	var l emergencyLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil || dec.More() {
		return auth.EmergencyAccess{}, fmt.Errorf("%w: emergency log: malformed line", ErrCorrupt)
	}
	if l.V != emergencyLogVersion {
		return auth.EmergencyAccess{}, fmt.Errorf("%w: emergency log: unsupported version %d", ErrCorrupt, l.V)
	}
	if l.ID == "" || l.UserID == "" || l.StartedAt.IsZero() {
		return auth.EmergencyAccess{}, fmt.Errorf("%w: emergency log: missing field", ErrCorrupt)
	}
	return l.EmergencyAccess, nil
}

// OpenEmergencyLog opens (creating it with mode 0600) the log at path.
// Close releases it.
func OpenEmergencyLog(path string) (*EmergencyLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("filestore: emergency log dir: %w", err)
	}
	lock, err := durable.TryLock(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("filestore: emergency log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("filestore: open emergency log: %w", err)
	}
	l := &EmergencyLog{f: f, lock: lock, m: map[string]auth.EmergencyAccess{}}
	if err := l.load(); err != nil {
		f.Close()
		lock.Unlock()
		return nil, err
	}
	return l, nil
}

func (l *EmergencyLog) load() error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return fmt.Errorf("filestore: read emergency log: %w", err)
	}
	good := 0
	for len(data[good:]) > 0 {
		rest := data[good:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			// A torn final write: never acknowledged, so drop it.
			if err := l.f.Truncate(int64(good)); err != nil {
				return fmt.Errorf("filestore: repair emergency log: %w", err)
			}
			if err := l.f.Sync(); err != nil {
				return fmt.Errorf("filestore: repair emergency log: %w", err)
			}
			break
		}
		if nl > maxEmergencyLine {
			return fmt.Errorf("%w: emergency log: line too long", ErrCorrupt)
		}
		a, err := decodeEmergencyLine(rest[:nl])
		if err != nil {
			return err
		}
		l.m[a.ID] = a
		good += nl + 1
	}
	l.size = int64(good)
	if _, err := l.f.Seek(l.size, io.SeekStart); err != nil {
		return fmt.Errorf("filestore: emergency log: %w", err)
	}
	return nil
}

// PutEmergencyAccess implements auth.EmergencyLog.
func (l *EmergencyLog) PutEmergencyAccess(ctx context.Context, a auth.EmergencyAccess) error {
	if a.ID == "" || a.UserID == "" || a.StartedAt.IsZero() {
		return errors.New("filestore: incomplete emergency access record")
	}
	b, err := json.Marshal(emergencyLine{V: emergencyLogVersion, EmergencyAccess: a})
	if err != nil {
		return fmt.Errorf("filestore: encode emergency access: %w", err)
	}
	b = append(b, '\n')
	if len(b) > maxEmergencyLine {
		return errors.New("filestore: emergency access record too large")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("filestore: emergency log closed")
	}
	_, err = l.f.Write(b)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		// Cut off whatever part of the line reached the file, so that the
		// next record starts on a clean line.
		l.f.Truncate(l.size)           //nolint:errcheck // best effort; reopening repairs a torn tail
		l.f.Seek(l.size, io.SeekStart) //nolint:errcheck // as above
		return fmt.Errorf("filestore: write emergency log: %w", err)
	}
	l.size += int64(len(b))
	l.m[a.ID] = a
	return nil
}

// EmergencyAccesses implements auth.EmergencyLog.
func (l *EmergencyLog) EmergencyAccesses(ctx context.Context, from, to time.Time) ([]auth.EmergencyAccess, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return memindex.SelectAccesses(l.m, from, to), nil
}

// Close closes the file and releases the lock.
func (l *EmergencyLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if uerr := l.lock.Unlock(); err == nil {
		err = uerr
	}
	return err
}
