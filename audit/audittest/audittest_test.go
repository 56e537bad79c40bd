package audittest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"iter"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

var key = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, ed25519.SeedSize))

func memoryHarness(t *testing.T) Harness {
	m, err := NewMemory("mem", key)
	if err != nil {
		t.Fatal(err)
	}
	return Harness{Writer: m, Entries: m.Entries, Keys: mustKeySet(t, key.Public().(ed25519.PublicKey))}
}

func TestMemoryConforms(t *testing.T) {
	Run(t, memoryHarness)
}

func TestMemoryFailWith(t *testing.T) {
	m, _ := NewMemory("mem", nil)
	m.FailWith(audit.ErrUnavailable)
	if err := m.Write(context.Background(), Event("x")); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatal(err)
	}
	m.FailWith(nil)
	if err := m.Write(context.Background(), Event("x")); err != nil || len(m.Records()) != 1 {
		t.Fatal(err)
	}
}

// TestMemoryZeroValueAndQueries: a zero Memory records, validates, and
// answers by action, in order.
func TestMemoryZeroValueAndQueries(t *testing.T) {
	var m Memory
	if m.Last().Action != "" || len(m.Events()) != 0 {
		t.Fatal("empty Memory has events")
	}
	ctx := context.Background()
	a, b := Event("a"), Event("b")
	b.Action = audit.ActionRead
	for _, e := range []audit.Event{a, b, a} {
		if err := m.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Write(ctx, audit.Event{}); err == nil {
		t.Fatal("an invalid event was recorded")
	}
	if got := m.Actions(); len(got) != 3 || got[0] != a.Action || got[1] != audit.ActionRead || got[2] != a.Action {
		t.Fatalf("Actions = %v", got)
	}
	if got := m.EventsWith(audit.ActionRead); len(got) != 1 || got[0].Target != b.Target {
		t.Fatalf("EventsWith = %+v", got)
	}
	if last := m.Last(); last.Target != a.Target || m.Records()[0].Stream != DefaultMemoryStream {
		t.Fatalf("Last = %+v", last)
	}
}

const brokenEnv = "HIPAAKIT_AUDITTEST_BROKEN"

// lossy acknowledges every event but stores only every other one.
type lossy struct {
	m *Memory
	n atomic.Int64
}

func (l *lossy) Write(ctx context.Context, e audit.Event) error {
	if l.n.Add(1)%2 == 0 {
		return nil
	}
	return l.m.Write(ctx, e)
}

// TestHelperBrokenWriter runs the suite against a broken writer when the
// parent test asks for it (brokenEnv set); otherwise it does nothing.
func TestHelperBrokenWriter(t *testing.T) {
	switch os.Getenv(brokenEnv) {
	case "lossy":
		Run(t, func(t *testing.T) Harness {
			h := memoryHarness(t)
			h.Writer = &lossy{m: h.Writer.(*Memory)}
			return h
		})
	case "unchained":
		Run(t, func(t *testing.T) Harness {
			h := memoryHarness(t)
			inner := h.Entries
			h.Entries = func(ctx context.Context) iter.Seq2[audit.Entry, error] {
				return func(yield func(audit.Entry, error) bool) {
					for e, err := range inner(ctx) {
						if e.Record != nil {
							r := *e.Record
							r.Seq += 10 // a gap before the first record
							e.Record = &r
						}
						if !yield(e, err) {
							return
						}
					}
				}
			}
			return h
		})
	}
}

// TestSuiteCatchesBrokenWriters proves the suite can fail: it runs it in a
// child process against writers that lose acknowledged events or break
// the chain, and expects failures.
func TestSuiteCatchesBrokenWriters(t *testing.T) {
	for kind, want := range map[string]string{"lossy": "acknowledged event", "unchained": "does not verify"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBrokenWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), brokenEnv+"="+kind)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s writer passed the suite", kind)
		}
		if !strings.Contains(string(out), want) {
			t.Fatalf("%s writer: failure does not mention %q:\n%s", kind, want, out)
		}
	}
}

// mustKeySet is the signing.KeySet of keys.
func mustKeySet(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
