package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "HIPAAKIT_AUDIT_CRASH_CHILD_DIR"

// TestCrashHelperProcess is the child of TestCrashAcknowledgedEventsSurvive:
// run by the parent with crashEnv set, it writes events from 8 goroutines
// and prints "ack <seq> <id>" after each acknowledged write, until it is
// killed.
// Run without crashEnv it does nothing.
func TestCrashHelperProcess(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return
	}
	l, err := OpenFileLog(context.Background(), dir, FileOptions{Signer: testKey(t), Repair: true, CheckpointEvery: 97, SegmentMaxBytes: 256 << 10})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	run := os.Getenv(crashEnv + "_RUN")
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				e := sampleEvent(i)
				e.Target.RecordID = fmt.Sprintf("%s-%d-%d", run, w, i)
				rec, err := l.Append(context.Background(), e)
				if err != nil {
					fmt.Fprintln(os.Stderr, "write failed:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s\n", rec.Seq, e.Target.RecordID)
				out.Flush()
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

// TestCrashAcknowledgedEventsSurvive kills a writing process with SIGKILL
// in the middle of a stream of acknowledged writes, three times, and proves
// after each that every acknowledged event is present and the chain
// verifies.
func TestCrashAcknowledgedEventsSurvive(t *testing.T) {
	dir := t.TempDir()
	acked := map[uint64]string{} // acknowledged seq -> event id
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, fmt.Sprintf("%s_RUN=r%d", crashEnv, round))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		killAt := 300 + round*250
		deadline := time.Now().Add(30 * time.Second) // a slow machine still gets killed mid-stream
		killed := false
		for sc.Scan() {
			line := sc.Text()
			var seq uint64
			var id string
			if _, err := fmt.Sscanf(line, "ack %d %s", &seq, &id); err != nil {
				t.Fatalf("child: %s", line)
			}
			acked[seq] = id
			if n++; !killed && (n >= killAt || time.Now().After(deadline)) {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		cmd.Wait()
		if !killed || n == 0 {
			t.Fatalf("round %d: child stopped by itself after %d acks", round, n)
		}

		// reopen as the next process would: repair a torn tail, if any
		l, err := OpenFileLog(context.Background(), dir, FileOptions{Signer: testKey(t), Repair: true})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if r := l.Repaired(); r != nil {
			t.Logf("round %d: repaired torn tail of %d bytes", round, r.Bytes)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		res, err := VerifyDir(context.Background(), dir, testKeys(t))
		if err != nil {
			t.Fatalf("round %d: verify after crash: %v", round, err)
		}
		present := map[uint64]string{}
		r, _ := OpenFileReader(dir)
		for rec, err := range r.Records(context.Background(), 0) {
			if err != nil {
				t.Fatal(err)
			}
			present[rec.Seq] = rec.Event.Target.RecordID
		}
		for seq, id := range acked {
			if present[seq] != id {
				t.Fatalf("round %d: acknowledged event %s (seq %d) lost after SIGKILL", round, id, seq)
			}
		}
		t.Logf("round %d: %d acknowledged, %d records, chain verifies to seq %d", round, len(acked), res.Streams[0].Records, res.Streams[0].LastSeq)
	}
}
