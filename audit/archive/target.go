package archive

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/clock"
)

// Errors of a Target.
var (
	// ErrNotFound reports a missing object.
	ErrNotFound = errors.New("audit/archive: object not found")
	// ErrRetained reports a delete of an object whose retention has not
	// passed (S3 object lock in compliance mode).
	ErrRetained = errors.New("audit/archive: object is under retention")
)

// Target stores the archive's objects under names of lower-case letters,
// digits, '-', '_', '.' and '/' (what every backup.Target accepts;
// backup.ArchiveTarget adapts a backup target, a directory or an S3
// bucket, to this interface).
type Target interface {
	// Put stores data under name atomically and durably.
	Put(ctx context.Context, name string, data []byte) error
	// Get returns the object's content, an error wrapping ErrNotFound
	// when there is none.
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the names beginning with prefix, in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes the object; a missing object is not an error.
	Delete(ctx context.Context, name string) error
}

// Retainer is a Target that can store an object that cannot be deleted
// before a date (S3 object lock in compliance mode, in a versioned bucket:
// a later write of the same name is a new version, the retained one
// stays). The archive writes every object it stores this way when the
// target is one.
type Retainer interface {
	PutRetained(ctx context.Context, name string, data []byte, until time.Time) error
}

// MemoryTarget is a Target and Retainer in memory, for tests: it refuses,
// like a bucket with object lock in compliance mode, to delete an object
// before its retention date (ErrRetained); it keeps only the newest
// version of a name.
type MemoryTarget struct {
	// Clock decides whether a retention has passed; nil is clock.System.
	Clock clock.Clock

	mu      sync.Mutex
	objects map[string][]byte
	until   map[string]time.Time
}

var (
	_ Target   = (*MemoryTarget)(nil)
	_ Retainer = (*MemoryTarget)(nil)
)

func (m *MemoryTarget) init() {
	if m.objects == nil {
		m.objects, m.until = map[string][]byte{}, map[string]time.Time{}
	}
}

func (m *MemoryTarget) retained(name string) bool {
	u, ok := m.until[name]
	return ok && clock.OrSystem(m.Clock).Now().Before(u)
}

// Put implements Target.
func (m *MemoryTarget) Put(ctx context.Context, name string, data []byte) error {
	return m.PutRetained(ctx, name, data, time.Time{})
}

// PutRetained implements Retainer.
func (m *MemoryTarget) PutRetained(_ context.Context, name string, data []byte, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	m.objects[name] = append([]byte(nil), data...)
	if until.After(m.until[name]) {
		m.until[name] = until
	}
	return nil
}

// Get implements Target.
func (m *MemoryTarget) Get(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return append([]byte(nil), b...), nil
}

// List implements Target.
func (m *MemoryTarget) List(_ context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.objects {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Delete implements Target.
func (m *MemoryTarget) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.retained(name) {
		return fmt.Errorf("%w: %s", ErrRetained, name)
	}
	delete(m.objects, name)
	delete(m.until, name)
	return nil
}

// RetainedUntil returns the retention date of an object (zero if none).
func (m *MemoryTarget) RetainedUntil(name string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.until[name]
}

// Tamper replaces an object's content regardless of retention, as someone
// with access to the storage could: for tests of verification.
func (m *MemoryTarget) Tamper(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	m.objects[name] = append([]byte(nil), data...)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
