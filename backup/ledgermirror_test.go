package backup

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// TestLedgerMirrorSurvivesOlderDatabase is issue 16 item 5 with the mirror
// in a backup target: seal, keep the key store and the ledger as they are
// (an older database), shred, then put the older copies back and replay
// through the mirror: the patient stays shredded, every other patient
// opens. Without the mirror the same replay leaves the patient readable.
func TestLedgerMirrorSurvivesOlderDatabase(t *testing.T) {
	ctx := context.Background()
	target, err := NewDirTarget(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	keys := memstore.New(memstore.Config{})
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: testKEK(t, 3)})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	openPrimary := func(dir string) disposal.LedgerStore {
		s, err := disposal.OpenFileLedgerStore(ctx, dir, disposal.FileLedgerOptions{Signer: priv})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	mirror, err := OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-a"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := disposal.New(disposal.Config{Vault: v, Keys: keys, Ledger: disposal.NewMirroredLedger(openPrimary(t.TempDir()), mirror),
		Audit: &audittest.Memory{}, Holds: disposal.NoHolds{}, SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	sealed := map[string]phi.Sealed{}
	bind := func(s string) phi.Binding { return phi.Binding{Subject: s, Field: "name"} }
	for _, sub := range []string{"patient-a", "patient-b"} {
		if sealed[sub], err = v.Seal(ctx, bind(sub), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	older := memstore.New(memstore.Config{}) // the key store before the shred
	all, _ := keys.List(ctx, "", 100)
	for _, w := range all {
		if err := older.Create(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Shred(ctx, "patient-a", "retention expired"); err != nil {
		t.Fatal(err)
	}

	// The older database: its ledger holds no entry, its key store the key.
	emptyLedger := openPrimary(t.TempDir())
	if n, err := disposal.NewLedger(emptyLedger).Replay(ctx, older); err != nil || n != 0 {
		t.Fatalf("replay without the mirror: %d, %v", n, err)
	}
	if _, err := older.Get(ctx, all[0].Ref); err != nil {
		t.Fatal("the older key store lost the key without the mirror: the test proves nothing")
	}
	reopened, err := OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := disposal.NewMirroredLedger(emptyLedger, reopened).Replay(ctx, older); err != nil {
		t.Fatal(err)
	}
	v2, err := phi.NewVault(phi.VaultConfig{Keys: older, KEK: testKEK(t, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Open(ctx, bind("patient-a"), sealed["patient-a"]); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("shredded patient after the older database came back: %v", err)
	}
	if _, err := v2.Open(ctx, bind("patient-b"), sealed["patient-b"]); err != nil {
		t.Fatalf("other patient: %v", err)
	}
}

// TestLedgerMirrorStreams: two writers each append to their own stream and
// find each other's disposals; a second writer of one stream is refused
// instead of overwriting; a record that is altered or missing makes the
// mirror fail with ErrCorruptLedger on open.
func TestLedgerMirrorStreams(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "mirror")
	target, err := NewDirTarget(root)
	if err != nil {
		t.Fatal(err)
	}
	a, err := OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-A"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-b"})
	if err != nil {
		t.Fatal(err)
	}
	la, lb := disposal.NewLedger(a), disposal.NewLedger(b)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	for i, l := range []*disposal.Ledger{la, lb, la} {
		keys := memstore.New(memstore.Config{})
		v, _ := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: testKEK(t, 3)})
		sub := []string{"p1", "p2", "p3"}[i]
		if _, err := v.Seal(ctx, phi.Binding{Subject: sub, Field: "f"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
		s, err := disposal.New(disposal.Config{Vault: v, Keys: keys, Ledger: l, Audit: &audittest.Memory{}, Holds: disposal.NoHolds{}, SigningKey: priv})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Shred(ctx, sub, "request"); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{"p1", "p2", "p3"} {
		if _, ok, err := b.FindSubject(ctx, sub); err != nil || !ok {
			t.Fatalf("writer b does not find %s: %v %v", sub, ok, err)
		}
	}
	n := 0
	if err := b.Scan(ctx, 0, func(audit.Record) error { n++; return nil }); err != nil || n != 3 {
		t.Fatalf("scan: %d, %v", n, err)
	}
	// A second writer of stream disposal-b, opened before b's next append.
	stale, err := OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, shredEvent("p4")); err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Append(ctx, shredEvent("p5")); !errors.Is(err, ErrExists) {
		t.Fatalf("a second writer of one stream: %v, want ErrExists", err)
	}

	// Tampering: an altered record, then a missing one.
	objs, _ := filepath.Glob(filepath.Join(root, "ledger-mirror", "*", "*"))
	if len(objs) != 4 {
		t.Fatalf("%d mirror objects", len(objs))
	}
	orig, _ := os.ReadFile(objs[0])
	os.WriteFile(objs[0], []byte(string(orig[:len(orig)-3])+"xx}"), 0o600)
	if _, err := OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-c"}); !errors.Is(err, disposal.ErrCorruptLedger) {
		t.Fatalf("altered record: %v", err)
	}
	os.WriteFile(objs[0], orig, 0o600)
	os.Remove(objs[0])
	if _, err := OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-c"}); !errors.Is(err, disposal.ErrCorruptLedger) {
		t.Fatalf("missing record: %v", err)
	}
}

func shredEvent(subject string) audit.Event {
	return audit.Event{Action: audit.ActionShred, Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: "system:test"},
		Origin: audit.Origin{Channel: audit.ChannelSystem}, Target: audit.Target{Subject: subject, RecordType: "subject"}}
}

// FuzzParseMirrorName: any object name below the mirror's prefix parses to a
// valid stream and a positive sequence number that name the object again,
// or is refused; it never panics.
func FuzzParseMirrorName(f *testing.F) {
	f.Add("646973706f73616c2d61/00000000000000000001")
	f.Add("zz/00000000000000000001")
	f.Add("646973706f73616c2d61/1")
	f.Add("/")
	f.Fuzz(func(t *testing.T, name string) {
		stream, seq, ok := parseMirrorName(name)
		if !ok {
			return
		}
		if seq == 0 || !audit.ValidStream(stream) {
			t.Fatalf("%q parsed to %q, %d", name, stream, seq)
		}
		if again := fmt.Sprintf("%s%020d", streamDir(stream), seq); again != ledgerMirrorPrefix+strings.ToLower(name) {
			t.Fatalf("%q names %q", name, again)
		}
	})
}

// TestLedgerMirrorOneWriterWins: eight processes that took the same stream
// (a misconfiguration) append at once behind a barrier: exactly one record
// is stored for the position, the seven others fail with ErrExists, and
// the mirror reads back one intact chain.
func TestLedgerMirrorOneWriterWins(t *testing.T) {
	ctx := context.Background()
	target, err := NewDirTarget(filepath.Join(t.TempDir(), "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	ms := make([]*LedgerMirror, n)
	for i := range ms {
		if ms[i], err = OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-x"}); err != nil {
			t.Fatal(err)
		}
	}
	var start, done sync.WaitGroup
	start.Add(1)
	errs := make([]error, n)
	for i := range ms {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			_, errs[i] = ms[i].Append(ctx, shredEvent(fmt.Sprintf("p%d", i)))
		}()
	}
	start.Done()
	done.Wait()
	ok, exists := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrExists):
			exists++
		default:
			t.Fatalf("append: %v", err)
		}
	}
	if ok != 1 || exists != n-1 {
		t.Fatalf("%d appends stored, %d refused; want 1 and %d", ok, exists, n-1)
	}
	reader, err := OpenLedgerMirror(ctx, target, LedgerMirrorConfig{Stream: "disposal-y"})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	if err := reader.Scan(ctx, 0, func(audit.Record) error { count++; return nil }); err != nil || count != 1 {
		t.Fatalf("read back %d records, %v", count, err)
	}
}
