package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

const crashEnv = "HIPAAKIT_BACKUP_CRASH_CHILD"

// slowTarget delays every Put so that a kill lands at varied points.
type slowTarget struct {
	Target
	delay time.Duration
}

func (s slowTarget) Put(ctx context.Context, name string, data []byte) error {
	time.Sleep(s.delay)
	return s.Target.Put(ctx, name, data)
}

// crashChild is the child process of TestCrashSafety (started through
// TestMain with crashEnv set): it backs up the source again and again,
// printing "done <id>" after each backup, until it is killed.
func crashChild(spec string) {
	fail := func(err error) {
		os.Stderr.WriteString("crash child: " + err.Error() + "\n")
		os.Exit(2)
	}
	repoDir, src, _ := strings.Cut(spec, "|")
	ctx := context.Background()
	tg, err := NewDirTarget(repoDir)
	if err != nil {
		fail(err)
	}
	kek, err := localkek.New(bytes.Repeat([]byte{1}, 32)) // testKEK(t, 1)
	if err != nil {
		fail(err)
	}
	r, err := Open(ctx, slowTarget{Target: tg, delay: time.Millisecond}, kek, Config{Audit: audit.Discard{}, Actor: audit.Actor{}})
	if err != nil {
		fail(err)
	}
	for {
		// Change one file so that every backup writes eight new chunks.
		var b [8 * MinChunkSize]byte
		rand.Read(b[:])
		if err := os.WriteFile(filepath.Join(src, "changing.bin"), b[:], 0o600); err != nil {
			fail(err)
		}
		m, err := r.Backup(ctx, DirSource{Root: src})
		if err != nil {
			fail(err)
		}
		os.Stdout.WriteString("done " + m.ID + "\n")
	}
}

// TestCrashSafety kills a backing-up child process with SIGKILL at random
// points: a killed backup is never listed, every listed backup verifies,
// earlier backups stay valid, and garbage collection later removes what the
// killed backups left behind without breaking anything.
func TestCrashSafety(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	for i := 0; i < 3; i++ {
		var b [3 * MinChunkSize]byte
		rand.Read(b[:])
		os.WriteFile(filepath.Join(src, "bulk"+string(rune('a'+i))), b[:], 0o600)
	}
	first, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	completed := map[string]bool{first.ID: true}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for i := 0; i < 8; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+f.target.Root()+"|"+src)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		time.Sleep(time.Duration(20+rng.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for l := range lines {
			if id, ok := strings.CutPrefix(l, "done "); ok {
				completed[id] = true
			}
		}
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the child did not die by SIGKILL (%v): %s", err, stderr.String())
		}
		kills++

		list, err := f.repo.List(f.ctx)
		if err != nil {
			t.Fatalf("after kill %d: List: %v", kills, err)
		}
		listed := map[string]bool{}
		unreported := 0
		for _, b := range list {
			listed[b.ID] = true
			if !completed[b.ID] {
				// Killed after its manifest was durable but before it
				// printed "done": it must be complete.
				unreported++
				if _, err := f.repo.Verify(f.ctx, b.ID, VerifyOptions{}); err != nil {
					t.Fatalf("after kill %d: listed backup %s is incomplete: %v", kills, b.ID, err)
				}
				completed[b.ID] = true
			}
		}
		if unreported > 1 {
			t.Fatalf("after kill %d: %d listed backups were never reported done; at most the one killed may be", kills, unreported)
		}
		for id := range completed {
			if !listed[id] {
				t.Fatalf("after kill %d: completed backup %s is not listed", kills, id)
			}
		}
	}
	for id := range completed {
		if _, err := f.repo.Verify(f.ctx, id, VerifyOptions{}); err != nil {
			t.Fatalf("backup %s no longer verifies: %v", id, err)
		}
	}
	// The killed children's locks look fresh: collection waits.
	rep, err := f.repo.Prune(f.ctx, PruneOptions{})
	if err != nil || !rep.GCDeferred {
		t.Fatalf("prune beside fresh locks of killed backups: %+v, %v", rep, err)
	}
	// Once stale, collection removes the orphans and every backup survives.
	later := f.reopen(Config{Clock: clock.NewFake(time.Now().Add(2 * DefaultLockStaleAfter))})
	rep, err = later.Prune(f.ctx, PruneOptions{})
	if err != nil || rep.GCDeferred || rep.StaleLocksSeen == 0 {
		t.Fatalf("prune after the locks went stale: %+v, %v", rep, err)
	}
	for id := range completed {
		if _, err := f.repo.Verify(f.ctx, id, VerifyOptions{}); err != nil {
			t.Fatalf("backup %s broken by GC after crashes: %v", id, err)
		}
	}
	t.Logf("%d kills, %d completed backups, %d orphan chunks collected", kills, len(completed)-1, rep.ChunksDeleted)
}
