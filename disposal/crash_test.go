package disposal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/signing"
)

// crashChildEnv makes the test binary act as the child of
// TestShredSurvivesKill.
const crashChildEnv = "HIPAAKIT_DISPOSAL_CRASH_CHILD"

// TestShredSurvivesKill kills a process that is shredding subjects one
// after another (SIGKILL, at an arbitrary point) and checks the write-ahead
// rule: every acknowledged shred is in the ledger and its keys are gone,
// and after replaying the ledger no subject it names has keys left.
func TestShredSurvivesKill(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild(t)
		return
	}
	ctx := context.Background()
	dir := t.TempDir()
	priv, err := signing.LoadOrCreate(filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := filestore.Open(filepath.Join(dir, "keys"), filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	vault, _ := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: newKEK(t)})
	const n = 200
	for i := 0; i < n; i++ {
		if _, err := vault.Seal(ctx, phi.Binding{Subject: fmt.Sprintf("patient-%03d", i), Field: "dob"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestShredSurvivesKill$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, s)
			if len(acked) == 25 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
	}
	cmd.Wait()
	if len(acked) < 25 {
		t.Fatalf("child acknowledged only %d shreds before exiting", len(acked))
	}

	store, err := OpenFileLedgerStore(ctx, filepath.Join(dir, "ledger"), FileLedgerOptions{Signer: priv, Repair: true})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	ledger := NewLedger(store)
	defer ledger.Close()
	for _, s := range acked {
		if _, ok, err := ledger.Lookup(ctx, s); err != nil || !ok {
			t.Fatalf("acknowledged shred of %s missing from the ledger: %v", s, err)
		}
		if _, err := keys.Get(ctx, s); !errors.Is(err, phi.ErrShredded) {
			t.Fatalf("acknowledged shred of %s left keys: %v", s, err)
		}
	}
	replayed, err := ledger.Replay(ctx, keys)
	if err != nil || replayed < len(acked) {
		t.Fatalf("replay: %d, %v", replayed, err)
	}
	if err := ledger.Entries(ctx, func(e Entry) error {
		if _, err := keys.Get(ctx, e.Statement.Subject); !errors.Is(err, phi.ErrShredded) {
			return fmt.Errorf("ledger names %s but its keys survive replay: %v", e.Statement.Subject, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func crashChild(t *testing.T) {
	ctx := context.Background()
	dir := os.Getenv(crashChildEnv)
	priv, err := signing.Load(filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := filestore.Open(filepath.Join(dir, "keys"), filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenFileLedgerStore(ctx, filepath.Join(dir, "ledger"), FileLedgerOptions{Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	vault, _ := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: newKEK(t)})
	s, err := New(Config{Vault: vault, Keys: keys, Ledger: NewLedger(store), Audit: audit.Discard{}, Holds: NoHolds{}, SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		subject := fmt.Sprintf("patient-%03d", i%200)
		if _, err := s.Shred(ctx, subject, "crash test"); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("acked %s\n", subject)
		if i >= 200 {
			time.Sleep(time.Millisecond)
		}
	}
}
