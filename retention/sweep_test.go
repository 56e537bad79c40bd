package retention_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/retentiontest"
)

// memSource is a Source over a fixed list of subjects.
type memSource struct {
	mu       sync.Mutex
	subjects []retention.Subject // sorted by ID
	calls    []string            // the after argument of each call
	failAt   int                 // fail the call with this index (1-based), 0 never
}

func (m *memSource) Subjects(ctx context.Context, after string, limit int) ([]retention.Subject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, after)
	if m.failAt != 0 && len(m.calls) == m.failAt {
		return nil, errors.New("connection reset")
	}
	i := sort.Search(len(m.subjects), func(i int) bool { return m.subjects[i].ID > after })
	end := min(i+limit, len(m.subjects))
	return m.subjects[i:end], nil
}

type env struct {
	vault    *phi.Vault
	keys     *memstore.Store
	ledger   *disposal.Ledger
	registry *retention.Registry
	shredder *disposal.Shredder
	state    *retention.FileSweepState
	clock    *clock.Fake
	dir      string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	kek, err := localkek.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := memstore.New(memstore.Config{})
	vault, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ls, err := disposal.OpenFileLedgerStore(ctx, filepath.Join(dir, "ledger"), disposal.FileLedgerOptions{Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	ledger := disposal.NewLedger(ls)
	t.Cleanup(func() { ledger.Close() })
	hs, err := retention.OpenFileHoldStore(filepath.Join(dir, "holds"))
	if err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	reg, err := retention.NewRegistry(retention.RegistryConfig{Holds: hs, Audit: audit.Discard{}, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: ledger, Audit: audit.Discard{}, Holds: reg, SigningKey: priv, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	st, err := retention.OpenFileSweepState(filepath.Join(dir, "sweep"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{vault: vault, keys: keys, ledger: ledger, registry: reg, shredder: sh, state: st, clock: fc, dir: dir}
}

func (e *env) sweeper(t testing.TB, src retention.Source, batch int) *retention.Sweeper {
	t.Helper()
	s, err := retention.NewSweeper(retention.SweeperConfig{
		Source: src, Policies: retention.MustPolicies(retention.Policy{Kind: "encounter", Keep: retention.Period{Years: 6}}, retention.Policy{Kind: "lab", Keep: retention.Period{Years: 1}}),
		Holds: e.registry, Disposer: e.shredder, State: e.state, Clock: e.clock, BatchSize: batch,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seed seals a value for n subjects; every third is still within retention.
func (e *env) seed(t testing.TB, n int) *memSource {
	t.Helper()
	src := &memSource{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("patient-%05d", i)
		if _, err := e.vault.Seal(context.Background(), phi.Binding{Subject: id, Field: "dob"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
		created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		if i%3 == 2 {
			created = time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		src.subjects = append(src.subjects, retention.Subject{ID: id, Records: []retention.Record{
			{ID: "e" + id, Kind: "encounter", Created: created},
			{ID: "l" + id, Kind: "lab", Created: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
		}})
	}
	return src
}

func (e *env) shredded(t testing.TB, subject string) bool {
	_, err := e.keys.Get(context.Background(), subject)
	if err != nil && !errors.Is(err, phi.ErrShredded) {
		t.Fatal(err)
	}
	return errors.Is(err, phi.ErrShredded)
}

func TestSweepShredsExpiredSubjectsAndReports(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	src := e.seed(t, 10)
	if _, err := e.registry.Set(ctx, retention.HoldRequest{Subject: "patient-00003", Reason: "litigation", SetBy: "u1"}); err != nil {
		t.Fatal(err)
	}
	sw := e.sweeper(t, src, 4)

	// Dry run: nothing destroyed, cursor untouched, same counts.
	var seen []string
	dry, err := sw.Sweep(ctx, retention.DryRun(), retention.Observe(func(d retention.SubjectDecision, err error) {
		if d.Action == retention.Dispose {
			seen = append(seen, d.Subject)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range src.subjects {
		if e.shredded(t, s.ID) {
			t.Fatalf("dry run shredded %s", s.ID)
		}
	}
	// Subjects 0..9: 2,5,8 within retention; 3 held; the other 6 expire.
	want := []string{"patient-00000", "patient-00001", "patient-00004", "patient-00006", "patient-00007", "patient-00009"}
	if fmt.Sprint(seen) != fmt.Sprint(want) || dry.Shredded != 6 || dry.Held != 1 || dry.Kept != 4 || !dry.DryRun {
		t.Fatalf("dry run: %v %+v", seen, dry)
	}

	rep, err := sw.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Subjects != 10 || rep.Shredded != 6 || rep.Held != 1 || rep.Kept != 4 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	if enc := rep.PerKind["encounter"]; enc != (retention.KindCounts{Records: 10, Disposed: 6, Held: 1}) {
		t.Fatalf("encounter counts %+v", enc)
	}
	if lab := rep.PerKind["lab"]; lab != (retention.KindCounts{Records: 10, Disposed: 6, Held: 1}) {
		t.Fatalf("lab counts %+v", lab)
	}
	for _, s := range src.subjects {
		wantShredded := false
		for _, w := range want {
			wantShredded = wantShredded || w == s.ID
		}
		if e.shredded(t, s.ID) != wantShredded {
			t.Fatalf("%s shredded=%v, want %v", s.ID, !wantShredded, wantShredded)
		}
	}
	if c, _ := e.state.Cursor(ctx); c != "" {
		t.Fatalf("cursor after a complete pass: %q", c)
	}
	// Running again is harmless: repeated shreds, no new ledger entries.
	rep2, err := sw.Sweep(ctx)
	if err != nil || rep2.Repeated != 6 {
		t.Fatalf("second sweep %+v %v", rep2, err)
	}
	if n, _ := e.ledger.Verify(ctx); n != 6 {
		t.Fatalf("ledger has %d entries, want 6", n)
	}
}

// A sweep that stops half-way (a crash, a lost connection) resumes after
// the last completed batch, and every subject ends up shredded once.
func TestSweepResumesAfterInterruption(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	src := e.seed(t, 12)
	src.failAt = 3 // the third batch read fails
	sw := e.sweeper(t, src, 3)
	if _, err := sw.Sweep(ctx); err == nil {
		t.Fatal("interrupted sweep reported success")
	}
	cursor, _ := e.state.Cursor(ctx)
	if cursor != "patient-00005" {
		t.Fatalf("cursor %q, want patient-00005", cursor)
	}
	src.failAt = 0
	src.calls = nil
	rep, err := sw.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed != "patient-00005" || src.calls[0] != "patient-00005" || rep.Subjects != 6 {
		t.Fatalf("resumed %+v, calls %v", rep, src.calls)
	}
	for i := 0; i < 12; i++ {
		id := fmt.Sprintf("patient-%05d", i)
		if e.shredded(t, id) == (i%3 == 2) {
			t.Fatalf("%s in wrong state", id)
		}
	}
	if n, _ := e.ledger.Verify(ctx); n != 8 {
		t.Fatalf("ledger has %d entries, want 8", n)
	}
}

func TestSweepRunsOnceAtATime(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	unlock, err := e.state.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A second instance (another state handle on the same directory).
	other, _ := retention.OpenFileSweepState(filepath.Join(e.dir, "sweep"))
	if _, err := other.Lock(ctx); !errors.Is(err, retention.ErrSweepRunning) {
		t.Fatalf("second lock: %v", err)
	}
	sw := e.sweeper(t, e.seed(t, 1), 10)
	if _, err := sw.Sweep(ctx); !errors.Is(err, retention.ErrSweepRunning) {
		t.Fatalf("sweep while locked: %v", err)
	}
	// A dry run does not need the lock.
	if _, err := sw.Sweep(ctx, retention.DryRun()); err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := sw.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
}

// A hold set between evaluation and disposal is still honoured: disposal
// asks the registry itself.
func TestSweepHonoursLateHold(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	src := e.seed(t, 2)
	late := &lateHolds{Registry: e.registry}
	sw, _ := retention.NewSweeper(retention.SweeperConfig{
		Source: src, Policies: retention.MustPolicies(retention.Policy{Kind: "encounter", Keep: retention.Period{Years: 1}}, retention.Policy{Kind: "lab", Keep: retention.Period{Years: 1}}),
		Holds: late, Disposer: e.shredder, State: e.state, Clock: e.clock,
	})
	late.after = func() {
		if _, err := e.registry.Set(ctx, retention.HoldRequest{Subject: "patient-00000", Reason: "late", SetBy: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := sw.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Held != 1 || rep.Shredded != 1 || e.shredded(t, "patient-00000") || !e.shredded(t, "patient-00001") {
		t.Fatalf("report %+v", rep)
	}
}

type lateHolds struct {
	*retention.Registry
	after func()
}

func (l *lateHolds) Active(ctx context.Context) ([]retention.Hold, error) {
	hs, err := l.Registry.Active(ctx)
	l.after()
	return hs, err
}

func TestSweepFailsClosedOnHoldError(t *testing.T) {
	e := newEnv(t)
	src := e.seed(t, 1)
	sw, _ := retention.NewSweeper(retention.SweeperConfig{Source: src, Policies: retention.MustPolicies(retention.Policy{Kind: "encounter", Keep: retention.Period{Days: 1}}),
		Holds: failingHolds{}, Disposer: e.shredder, State: e.state, Clock: e.clock})
	if _, err := sw.Sweep(context.Background()); err == nil || e.shredded(t, "patient-00000") {
		t.Fatalf("sweep without holds: %v", err)
	}
}

type failingHolds struct{}

func (failingHolds) Active(context.Context) ([]retention.Hold, error) {
	return nil, errors.New("hold store down")
}

func TestCursorFile(t *testing.T) {
	for _, bad := range []string{"", "{}", `{"format":"hipaakit-retention-cursor","version":1,"after":"` + strings.Repeat("x", 1025) + `"}`, `{"format":"hipaakit-retention-cursor","version":1,"after":"x","y":1}`} {
		if _, err := retention.ParseCursor([]byte(bad)); !errors.Is(err, retention.ErrCorruptCursor) {
			t.Errorf("ParseCursor(%q) = %v", bad, err)
		}
	}
	if _, err := retention.ParseCursor([]byte(`{"format":"hipaakit-retention-cursor","version":9,"after":""}`)); !errors.Is(err, retention.ErrUnsupportedVersion) {
		t.Error("future version accepted")
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "cursor_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := retention.ParseCursor(golden); err != nil || c != "patient-00005" {
		t.Fatalf("golden cursor: %q %v", c, err)
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add([]byte(`{"format":"hipaakit-retention-cursor","version":1,"after":"patient-00005"}`))
	f.Add([]byte(`{"format":"hipaakit-retention-cursor","version":1,"after":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := retention.ParseCursor(data)
		if err != nil {
			if !errors.Is(err, retention.ErrCorruptCursor) && !errors.Is(err, retention.ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(c) > 1024 || !utf8.ValidString(c) {
			t.Fatal("invalid cursor accepted")
		}
	})
}

func TestFileSweepStateConformance(t *testing.T) {
	retentiontest.SweepState(t, func(t *testing.T) (retention.SweepState, retention.SweepState) {
		dir := t.TempDir()
		a, err := retention.OpenFileSweepState(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := retention.OpenFileSweepState(dir)
		return a, b
	})
}

// A subject ID that phi rejects fails its shred, is reported, and does not
// wedge the cursor.
func TestSweepSurvivesMalformedSubjectIDs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	src := e.seed(t, 2)
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	src.subjects = append([]retention.Subject{{ID: "bad subject!", Records: []retention.Record{{ID: "x", Kind: "encounter", Created: old}}}}, src.subjects...)
	sw := e.sweeper(t, src, 1)
	rep, err := sw.Sweep(ctx)
	if err != nil || rep.Failed != 1 || len(rep.Failures) != 1 || rep.Failures[0].Subject != "bad subject!" || rep.Shredded != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	if !errors.Is(rep.Failures[0].Err, disposal.ErrInvalidSubject) {
		t.Fatalf("failure %v", rep.Failures[0].Err)
	}
	if _, err := sw.Sweep(ctx); err != nil {
		t.Fatalf("second sweep: %v", err)
	}
}

func TestSweepReasonStaysWithinLimit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var kinds []retention.Policy
	var recs []retention.Record
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("kind-with-a-rather-long-name-%02d", i)
		kinds = append(kinds, retention.Policy{Kind: k, Keep: retention.Period{Days: 1}})
		recs = append(recs, retention.Record{ID: k, Kind: k, Created: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	if _, err := e.vault.Seal(ctx, phi.Binding{Subject: "patient-1", Field: "dob"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	sw, _ := retention.NewSweeper(retention.SweeperConfig{Source: &memSource{subjects: []retention.Subject{{ID: "patient-1", Records: recs}}},
		Policies: retention.MustPolicies(kinds...), Holds: e.registry, Disposer: e.shredder, State: e.state, Clock: e.clock})
	rep, err := sw.Sweep(ctx)
	if err != nil || rep.Shredded != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	entry, ok, _ := e.ledger.Lookup(ctx, "patient-1")
	if !ok || entry.Statement.Reason != "retention: all records expired (40 kinds)" {
		t.Fatalf("reason %q", entry.Statement.Reason)
	}
}

// memSource, the tests' Source, keeps the Source contract.
func TestMemSourceConformance(t *testing.T) {
	retentiontest.Source(t, func(t *testing.T, subjects []retention.Subject) retention.Source {
		return &memSource{subjects: subjects}
	})
}
