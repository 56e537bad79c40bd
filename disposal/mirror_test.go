package disposal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// TestMirroredLedgerSurvivesOlderDatabase: a subject shredded through a
// mirrored ledger stays shredded when the key store and the ledger are
// both restored to a moment before the shred, because replay consults the
// mirror; every other subject still opens. A mirror that cannot be written
// does not stop the shred, and the next replay completes the mirror.
func TestMirroredLedgerSurvivesOlderDatabase(t *testing.T) {
	ctx := context.Background()
	keys := memstore.New(memstore.Config{})
	kek := newKEK(t)
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	primary, mirror := &memLedger{}, &memLedger{}
	ledger := NewMirroredLedger(primary, mirror)
	s, err := New(Config{Vault: v, Keys: keys, Ledger: ledger, Audit: &audittest.Memory{}, Holds: NoHolds{}, SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	sealed := map[string]phi.Sealed{}
	for _, sub := range []string{"patient-a", "patient-b", "patient-c"} {
		if sealed[sub], err = v.Seal(ctx, phi.Binding{Subject: sub, Field: "name"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// The "older database": the key store before any shred.
	older := memstore.New(memstore.Config{})
	all, err := keys.List(ctx, "", 100)
	if err != nil || len(all) != 3 {
		t.Fatalf("List: %d, %v", len(all), err)
	}
	for _, w := range all {
		if err := older.Create(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Shred(ctx, "patient-a", "retention expired"); err != nil {
		t.Fatal(err)
	}
	mirror.failNext = errors.New("mirror offline")
	res, err := s.Shred(ctx, "patient-c", "retention expired")
	if !errors.Is(err, ErrMirror) || res.Signed == nil {
		t.Fatalf("shred with the mirror down: %+v, %v, want a result and ErrMirror", res, err)
	}
	if _, err := v.Open(ctx, phi.Binding{Subject: "patient-c", Field: "name"}, sealed["patient-c"]); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("patient-c after a shred with the mirror down: %v", err)
	}
	if len(mirror.records) != 1 {
		t.Fatalf("mirror holds %d entries, want 1", len(mirror.records))
	}
	// Start-up replay on the live database completes the mirror.
	if _, err := ledger.Replay(ctx, keys); err != nil || len(mirror.records) != 2 {
		t.Fatalf("replay: %v; mirror holds %d entries, want 2", err, len(mirror.records))
	}

	// Point-in-time recovery: the key store and the ledger as they were
	// before both shreds, the mirror as it is.
	restored := NewMirroredLedger(&memLedger{}, mirror)
	n, err := restored.Replay(ctx, older)
	if err != nil || n != 2 {
		t.Fatalf("replay after the restore: %d, %v", n, err)
	}
	ov, _ := phi.NewVault(phi.VaultConfig{Keys: older, KEK: kek})
	for sub, want := range map[string]error{"patient-a": phi.ErrShredded, "patient-b": nil, "patient-c": phi.ErrShredded} {
		if _, err := ov.Open(ctx, phi.Binding{Subject: sub, Field: "name"}, sealed[sub]); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Fatalf("%s after the restore: %v, want %v", sub, err, want)
		}
	}
	if _, ok, err := restored.Lookup(ctx, "patient-a"); !ok || err != nil {
		t.Fatalf("Lookup through the mirror: %v, %v", ok, err)
	}
}

// TestSyncMirror: disposals recorded in the store by another process (an
// unmirrored ledger over the same store) are copied into the mirror once,
// and no key is destroyed by the copy.
func TestSyncMirror(t *testing.T) {
	ctx := context.Background()
	keys := memstore.New(memstore.Config{})
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: newKEK(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	primary, mirror := &memLedger{}, &memLedger{}
	other, err := New(Config{Vault: v, Keys: keys, Ledger: NewLedger(primary), Audit: &audittest.Memory{}, Holds: NoHolds{}, SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"patient-a", "patient-b", "patient-c"} {
		if _, err := v.Seal(ctx, phi.Binding{Subject: sub, Field: "name"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{"patient-a", "patient-b"} {
		if _, err := other.Shred(ctx, sub, "retention expired"); err != nil {
			t.Fatal(err)
		}
	}
	mirrored := NewMirroredLedger(primary, mirror)
	if n, err := NewLedger(primary).SyncMirror(ctx); n != 0 || err != nil {
		t.Fatalf("SyncMirror without a mirror: %d, %v", n, err)
	}
	for want := range []int{2, 0} {
		n, err := mirrored.SyncMirror(ctx)
		if err != nil || n != []int{2, 0}[want] {
			t.Fatalf("SyncMirror pass %d: %d, %v", want+1, n, err)
		}
	}
	for _, sub := range []string{"patient-a", "patient-b"} {
		if _, ok, err := mirror.FindSubject(ctx, sub); !ok || err != nil {
			t.Fatalf("mirror lacks %s: %v", sub, err)
		}
	}
	if ks, err := keys.List(ctx, "", 10); err != nil || len(ks) != 1 || ks[0].Ref != "patient-c" {
		t.Fatalf("patient-c's keys after SyncMirror: %+v, %v", ks, err)
	}
}
