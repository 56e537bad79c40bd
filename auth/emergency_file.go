package auth

import (
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

// ErrCorruptEmergencyLog reports an emergency log file that cannot be read.
var ErrCorruptEmergencyLog = errors.New("auth: corrupt emergency log")

// emergencyLogVersion is the version of each emergency log line.
const emergencyLogVersion = 1

// maxEmergencyLine bounds one line of the emergency log.
const maxEmergencyLine = 8 << 10

// FileEmergencyLog is the embedded default EmergencyLog: an append-only file
// of JSON lines, one per change of a record (start, then end), each
// {"v":1, ...EmergencyAccess fields}, fsynced before PutEmergencyAccess
// returns. The latest line for an ID wins. A last line cut short by a crash
// is dropped when the file is opened (it was never acknowledged); any other
// malformed line makes Open fail with ErrCorruptEmergencyLog.
type FileEmergencyLog struct {
	mu   sync.Mutex
	f    *os.File
	lock *durable.Lock
	size int64 // bytes of complete, acknowledged lines
	m    map[string]EmergencyAccess
}

var _ EmergencyLog = (*FileEmergencyLog)(nil)

type emergencyLine struct {
	V int `json:"v"`
	EmergencyAccess
}

// decodeEmergencyLine parses one log line. Errors never quote the input.
func decodeEmergencyLine(b []byte) (EmergencyAccess, error) {
	var l emergencyLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil || dec.More() {
		return EmergencyAccess{}, fmt.Errorf("%w: malformed line", ErrCorruptEmergencyLog)
	}
	if l.V != emergencyLogVersion {
		return EmergencyAccess{}, fmt.Errorf("%w: unsupported version %d", ErrCorruptEmergencyLog, l.V)
	}
	if l.ID == "" || l.UserID == "" || l.StartedAt.IsZero() {
		return EmergencyAccess{}, fmt.Errorf("%w: missing field", ErrCorruptEmergencyLog)
	}
	return l.EmergencyAccess, nil
}

// OpenFileEmergencyLog opens (creating it with mode 0600) the log at path.
// Close releases it.
func OpenFileEmergencyLog(path string) (*FileEmergencyLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: emergency log dir: %w", err)
	}
	lock, err := durable.TryLock(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("auth: emergency log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("auth: open emergency log: %w", err)
	}
	l := &FileEmergencyLog{f: f, lock: lock, m: map[string]EmergencyAccess{}}
	if err := l.load(); err != nil {
		f.Close()
		lock.Unlock()
		return nil, err
	}
	return l, nil
}

func (l *FileEmergencyLog) load() error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return fmt.Errorf("auth: read emergency log: %w", err)
	}
	good := 0
	for len(data[good:]) > 0 {
		rest := data[good:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			// A torn final write: never acknowledged, so drop it.
			if err := l.f.Truncate(int64(good)); err != nil {
				return fmt.Errorf("auth: repair emergency log: %w", err)
			}
			if err := l.f.Sync(); err != nil {
				return fmt.Errorf("auth: repair emergency log: %w", err)
			}
			break
		}
		if nl > maxEmergencyLine {
			return fmt.Errorf("%w: line too long", ErrCorruptEmergencyLog)
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
		return fmt.Errorf("auth: emergency log: %w", err)
	}
	return nil
}

// PutEmergencyAccess implements EmergencyLog.
func (l *FileEmergencyLog) PutEmergencyAccess(ctx context.Context, a EmergencyAccess) error {
	if a.ID == "" || a.UserID == "" || a.StartedAt.IsZero() {
		return errors.New("auth: incomplete emergency access record")
	}
	b, err := json.Marshal(emergencyLine{V: emergencyLogVersion, EmergencyAccess: a})
	if err != nil {
		return fmt.Errorf("auth: encode emergency access: %w", err)
	}
	b = append(b, '\n')
	if len(b) > maxEmergencyLine {
		return errors.New("auth: emergency access record too large")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("auth: emergency log closed")
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
		return fmt.Errorf("auth: write emergency log: %w", err)
	}
	l.size += int64(len(b))
	l.m[a.ID] = a
	return nil
}

// EmergencyAccesses implements EmergencyLog.
func (l *FileEmergencyLog) EmergencyAccesses(ctx context.Context, from, to time.Time) ([]EmergencyAccess, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return selectAccesses(l.m, from, to), nil
}

// Close closes the file and releases the lock.
func (l *FileEmergencyLog) Close() error {
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
