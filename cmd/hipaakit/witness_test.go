package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/signing"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWitnessCommand(t *testing.T) {
	if code, _, _ := runCLI(t, nil, "witness", "--name", "w"); code != exitUsage {
		t.Fatalf("missing flags: %d", code)
	}
	tmp := t.TempDir()
	_, logKey, _ := ed25519.GenerateKey(rand.Reader)
	logPub, _ := keyFiles(t, tmp, logKey)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	c := &cli{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, c, []string{"witness", "--key", filepath.Join(tmp, "witness.pem"), "--name", "witness.example/w1",
			"--log-key", logPub, "--state", filepath.Join(tmp, "state.json"), "--listen", "127.0.0.1:0"})
	}()
	re := regexp.MustCompile(`listening on (\S+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-exit:
			t.Fatalf("witness exited %d: %s", code, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatal("witness did not start")
	}
	cp := audit.TreeCheckpoint{Stream: "app", Size: 0, Root: emptyRoot(t), Time: time.Now()}
	if err := audit.SignTreeCheckpoint(&cp, logKey); err != nil {
		t.Fatal(err)
	}
	cl := witness.Client{URL: "http://" + addr}
	line, err := cl.AddCheckpoint(ctx, 0, nil, cp.Note)
	if err != nil {
		t.Fatalf("add-checkpoint: %v", err)
	}
	wk, err := signing.Load(filepath.Join(tmp, "witness.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := witness.VerifyCosignatures(append(cp.Note, line...), []witness.Key{{Name: "witness.example/w1", Public: wk.PublicKey()}}, 1); err != nil {
		t.Fatalf("cosignature: %v", err)
	}
	var ce *witness.ConflictError
	if _, err := cl.AddCheckpoint(ctx, 5, nil, cp.Note); !errors.As(err, &ce) || ce.Size != 0 {
		t.Fatalf("wrong old size: %v", err)
	}
	// hipaakit audit witness sends a file log's checkpoint to it
	logDir := filepath.Join(tmp, "log")
	l, err := audit.OpenFileLog(ctx, logDir, audit.FileOptions{Signer: logKey})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := l.Write(ctx, cliEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	cosigned := filepath.Join(tmp, "cosigned.note")
	if code, _, errOut := runCLI(t, nil, "audit", "witness", "--key", logPub, "--witness", "http://"+addr, "--out", cosigned, logDir); code != exitOK {
		t.Fatalf("audit witness: %d %s", code, errOut)
	}
	note, _ := os.ReadFile(cosigned)
	if err := witness.VerifyCosignatures(note, []witness.Key{{Name: "witness.example/w1", Public: wk.PublicKey()}}, 1); err != nil {
		t.Fatalf("cosigned by the command: %v", err)
	}
	cancel()
	if code := <-exit; code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func emptyRoot(t *testing.T) audit.Hash {
	var m audit.MemoryTree
	return m.Root()
}
