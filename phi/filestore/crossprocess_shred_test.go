package filestore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

const watchDirEnv = "FILESTORE_TEST_WATCH_DIR"

var watchBinding = phi.Binding{Subject: "patient-1", Field: "dob"}

func fixedVault(t *testing.T, dir string) *phi.Vault {
	t.Helper()
	kek, err := localkek.New(make([]byte, localkek.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	v, err := phi.NewVault(phi.VaultConfig{Keys: open(t, dir), KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// TestWatchChildProcess is the child of TestShredReachesAnotherProcess; it
// does nothing unless started by it. It caches the subject's keys, says
// READY once its announcements are live, and says REFUSED when an Open
// fails with ErrShredded.
func TestWatchChildProcess(t *testing.T) {
	dir := os.Getenv(watchDirEnv)
	if dir == "" {
		return
	}
	ctx := context.Background()
	v := fixedVault(t, dir)
	sealed, err := os.ReadFile(filepath.Join(dir, "..", "sealed"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !v.KeyChangesLive() {
		if time.Now().After(deadline) {
			t.Fatal("announcements not live")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := v.Open(ctx, watchBinding, sealed); err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY")
	for {
		_, err := v.Open(ctx, watchBinding, sealed)
		if errors.Is(err, phi.ErrShredded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the shred never arrived")
		}
		time.Sleep(100 * time.Microsecond)
	}
	if _, err := v.Seal(ctx, watchBinding, []byte("x")); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Seal after the shred: %v", err)
	}
	fmt.Println("REFUSED")
}

// A shred in this process is refused by another process on the same
// directory, which had the subject's keys cached, within a second.
func TestShredReachesAnotherProcess(t *testing.T) {
	if os.Getenv(watchDirEnv) != "" {
		return
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	v := fixedVault(t, dir)
	sealed, err := v.Seal(ctx, watchBinding, []byte("1970-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "..", "sealed"), sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchChildProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), watchDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var log strings.Builder
	next := func(want string) {
		t.Helper()
		for lines.Scan() {
			log.WriteString(lines.Text() + "\n")
			if lines.Text() == want {
				return
			}
		}
		cmd.Wait()
		t.Fatalf("the child never said %s:\n%s", want, log.String())
	}
	next("READY")
	start := time.Now()
	if _, err := v.Shred(ctx, watchBinding.Subject); err != nil {
		t.Fatal(err)
	}
	next("REFUSED")
	took := time.Since(start)
	for lines.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, log.String())
	}
	t.Logf("shred -> refused in another process: %v", took)
	if took > time.Second {
		t.Fatalf("the other process refused the subject %v after the shred, want within a second", took)
	}
}
