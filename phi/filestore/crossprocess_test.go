package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
)

const (
	childDirEnv = "FILESTORE_TEST_CHILD_DIR"
	children    = 3
	increments  = 40
)

// increment adds one to the counter kept in the ciphertext of ref with a
// read-modify-write compare-and-swap, retrying lost races.
func increment(ctx context.Context, s *filestore.Store, ref string) error {
	for {
		k, err := s.Get(ctx, ref)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(k.Ciphertext))
		if err != nil {
			return err
		}
		k.Ciphertext = []byte(strconv.Itoa(n + 1))
		err = s.Update(ctx, k, k.Version)
		if !errors.Is(err, phi.ErrConflict) {
			return err
		}
	}
}

// TestChildProcess is the body of each child of TestCrossProcessCAS; it does
// nothing unless started by it.
func TestChildProcess(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := filestore.Open(dir, filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Create(ctx, phi.WrappedKeyset{Ref: "created-once", KEKID: "k", Ciphertext: []byte(strconv.Itoa(os.Getpid()))})
	switch {
	case err == nil:
		fmt.Println("CREATE-WON")
	case !errors.Is(err, phi.ErrKeyExists):
		t.Fatalf("Create: %v", err)
	}
	for range increments {
		if err := increment(ctx, s, "counter"); err != nil {
			t.Fatalf("increment: %v", err)
		}
	}
}

// TestCrossProcessCAS runs several processes on one directory: every
// increment of a shared counter survives, and exactly one process wins a
// racing Create.
func TestCrossProcessCAS(t *testing.T) {
	if os.Getenv(childDirEnv) != "" {
		return
	}
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.Create(ctx, phi.WrappedKeyset{Ref: "counter", KEKID: "k", Ciphertext: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([]string, children)
	errs := make([]error, children)
	for i := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	// The parent increments too, through its own handle.
	for range increments {
		if err := increment(ctx, s, "counter"); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	won := 0
	for i := range children {
		if errs[i] != nil {
			t.Fatalf("child %d: %v\n%s", i, errs[i], outs[i])
		}
		won += strings.Count(outs[i], "CREATE-WON")
	}
	if won != 1 {
		t.Errorf("%d processes won the racing Create, want 1", won)
	}
	k, err := s.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	const total = (children + 1) * increments
	if string(k.Ciphertext) != strconv.Itoa(total) || k.Version != total+1 {
		t.Fatalf("counter = %s at version %d, want %d at version %d: an update was lost", k.Ciphertext, k.Version, total, total+1)
	}
}
