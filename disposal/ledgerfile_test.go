package disposal

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
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
)

func openFileLedger(t testing.TB, dir string) (*Ledger, *FileLedgerStore) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return openFileLedgerWith(t, dir, FileLedgerOptions{Signer: priv})
}

func openFileLedgerWith(t testing.TB, dir string, opts FileLedgerOptions) (*Ledger, *FileLedgerStore) {
	t.Helper()
	s, err := OpenFileLedgerStore(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLedger(s)
	t.Cleanup(func() { l.Close() })
	return l, s
}

// copyDir copies the regular files of src into a fresh dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// The test: seal → copy the key store → shred → put the old copy
// back → replay → Open fails with ErrShredded, other patients still open.
func TestReplayAfterRestoringOldKeyStore(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	keysDir := filepath.Join(root, "keys")
	keys, err := filestore.Open(keysDir, filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ledger, _ := openFileLedger(t, filepath.Join(root, "ledger"))
	f := newFixture(t, keys, nil, nil)
	f.ledger = ledger
	f.shredder.cfg.Ledger = ledger

	b1 := phi.Binding{Subject: "patient-1", Field: "dob"}
	b2 := phi.Binding{Subject: "patient-2", Field: "dob"}
	s1 := f.seal(t, b1.Subject, b1.Field, "1970-01-01")
	s2 := f.seal(t, b2.Subject, b2.Field, "1980-02-02")

	backup := filepath.Join(root, "backup-of-keys")
	copyDir(t, keysDir, backup)

	if _, err := f.shredder.Shred(ctx, "patient-1", "patient request"); err != nil {
		t.Fatal(err)
	}

	// Restore the old key store over the live one.
	if err := os.RemoveAll(keysDir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, keysDir)
	restored, err := filestore.Open(keysDir, filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	vault, err := phi.NewVault(phi.VaultConfig{Keys: restored, KEK: newKEK(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Without replay the restore would resurrect the subject.
	if _, err := vault.Open(ctx, b1, s1); err != nil {
		t.Fatalf("precondition: the old key store should still hold patient-1's keys: %v", err)
	}
	n, err := ledger.Replay(ctx, restored)
	if err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v", n, err)
	}
	vault, _ = phi.NewVault(phi.VaultConfig{Keys: restored, KEK: newKEK(t)})
	if _, err := vault.Open(ctx, b1, s1); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("after replay patient-1 opens with %v, want ErrShredded", err)
	}
	pt, err := vault.Open(ctx, b2, s2)
	if err != nil || string(pt.Reveal()) != "1980-02-02" {
		t.Fatalf("patient-2 after replay: %v", err)
	}
	// Replay is idempotent.
	if n, err := ledger.Replay(ctx, restored); err != nil || n != 1 {
		t.Fatalf("second Replay = %d, %v", n, err)
	}
}

func TestFileLedgerPersistsAndReopens(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ledger")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ledger, store := openFileLedgerWith(t, dir, FileLedgerOptions{Signer: priv})
	f := newFixture(t, nil, store, nil)
	f.ledger = ledger
	f.shredder.cfg.Ledger = ledger
	var certs []Result
	for _, s := range []string{"patient-a", "patient-b", "patient-c"} {
		f.seal(t, s, "dob", "x")
		res, err := f.shredder.Shred(ctx, s, "r")
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, res)
	}
	if certs[2].Certificate.Ledger.Seq != 3 {
		t.Fatalf("third entry at seq %d", certs[2].Certificate.Ledger.Seq)
	}
	if err := ledger.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen for appending: the index is rebuilt, shreds stay idempotent.
	ledger2, store2 := openFileLedgerWith(t, dir, FileLedgerOptions{Signer: priv})
	f.ledger, f.shredder.cfg.Ledger = ledger2, ledger2
	res, err := f.shredder.Shred(ctx, "patient-b", "again")
	if err != nil || !res.Repeated || res.Certificate.ID != certs[1].Certificate.ID || res.Certificate.Ledger.Seq != 2 {
		t.Fatalf("after reopen: %+v %v", res.Certificate, err)
	}
	if _, ok, _ := store2.FindSubject(ctx, "patient-z"); ok {
		t.Fatal("found an unknown subject")
	}
	// A read-only reader (as a restore uses) sees every entry.
	pub := priv.Public()
	ro, err := OpenFileLedgerReader(ctx, dir, FileLedgerOptions{Keys: testKeySet(t, pub.(ed25519.PublicKey))})
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewLedger(ro).Verify(ctx)
	if err != nil || n != 3 {
		t.Fatalf("read-only Verify = %d, %v", n, err)
	}
	if _, err := ro.Append(ctx, audit.Event{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("append to reader: %v", err)
	}
	// A reader trusting another key rejects the ledger.
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := OpenFileLedgerReader(ctx, dir, FileLedgerOptions{Keys: testKeySet(t, other)}); !errors.Is(err, ErrCorruptLedger) {
		t.Fatalf("untrusted checkpoint key: %v", err)
	}
}

// A corrupt ledger line is a typed error, and Replay applies nothing.
func TestCorruptLedgerLine(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ledger")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ledger, store := openFileLedgerWith(t, dir, FileLedgerOptions{Signer: priv})
	f := newFixture(t, nil, store, nil)
	f.ledger, f.shredder.cfg.Ledger = ledger, ledger
	for _, s := range []string{"patient-a", "patient-b"} {
		f.seal(t, s, "dob", "x")
		if _, err := f.shredder.Shred(ctx, s, "r"); err != nil {
			t.Fatal(err)
		}
	}
	ledger.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(segs) == 0 {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("no segment files in %v", entries)
	}
	seg := segs[len(segs)-1]
	data, _ := os.ReadFile(seg)
	tampered := strings.Replace(string(data), `"patient-b"`, `"patient-c"`, 1)
	if tampered == string(data) {
		t.Fatal("fixture: subject not found in segment")
	}
	os.WriteFile(seg, []byte(tampered), 0o600)

	ro, err := OpenFileLedgerReader(ctx, dir, FileLedgerOptions{Keys: testKeySet(t, priv.Public().(ed25519.PublicKey))})
	if err == nil {
		_, err = NewLedger(ro).Replay(ctx, f.keys)
	}
	var le *LedgerError
	if !errors.As(err, &le) || !errors.Is(err, ErrCorruptLedger) {
		t.Fatalf("tampered ledger: %v", err)
	}
	if _, err := f.keys.Get(ctx, "patient-c"); !errors.Is(err, phi.ErrKeyNotFound) {
		t.Fatalf("replay of a corrupt ledger touched the store: %v", err)
	}
	garbage := append(data[:len(data):len(data)], "{not json}\n"...)
	os.WriteFile(seg, garbage, 0o600)
	if _, err := OpenFileLedgerReader(ctx, dir, FileLedgerOptions{Keys: testKeySet(t, priv.Public().(ed25519.PublicKey))}); !errors.Is(err, ErrCorruptLedger) {
		t.Fatalf("garbage line: %v", err)
	}
}

// Concurrent shreds on the file ledger share its group commit; each gets
// its own entry and a certificate naming it.
func TestFileLedgerConcurrentShreds(t *testing.T) {
	ctx := context.Background()
	ledger, store := openFileLedger(t, filepath.Join(t.TempDir(), "ledger"))
	f := newFixture(t, nil, store, nil)
	f.ledger, f.shredder.cfg.Ledger = ledger, ledger
	const n = 24
	for i := 0; i < n; i++ {
		f.seal(t, fmt.Sprintf("patient-%02d", i), "dob", "x")
	}
	var wg sync.WaitGroup
	seqs := make([]uint64, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := f.shredder.Shred(ctx, fmt.Sprintf("patient-%02d", i), "r")
			seqs[i], errs[i] = res.Certificate.Ledger.Seq, err
			if err == nil {
				if _, err := VerifyCertificate(res.Signed, trust(t, f.pub)); err != nil {
					errs[i] = err
				}
			}
		}(i)
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i := range seqs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[seqs[i]] {
			t.Fatalf("two certificates name ledger entry %d", seqs[i])
		}
		seen[seqs[i]] = true
		e, ok, err := ledger.Lookup(ctx, fmt.Sprintf("patient-%02d", i))
		if err != nil || !ok || e.Position.Seq != seqs[i] {
			t.Fatalf("lookup %d: %+v %v %v", i, e.Position, ok, err)
		}
	}
	if got, err := ledger.Verify(ctx); err != nil || got != n {
		t.Fatalf("ledger: %d entries, %v", got, err)
	}
}
