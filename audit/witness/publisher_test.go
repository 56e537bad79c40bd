package witness_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/signing"
)

// downWitness refuses every checkpoint, as a witness that is unreachable.
type downWitness struct{}

func (downWitness) AddCheckpoint(context.Context, uint64, []audit.Hash, []byte) ([]byte, error) {
	return nil, errors.New("witness: request failed: connection refused")
}

// blockedWitness blocks every request until release is closed.
type blockedWitness struct {
	w       *witness.Witness
	entered chan struct{}
	release chan struct{}
}

func (b *blockedWitness) AddCheckpoint(ctx context.Context, old uint64, proof []audit.Hash, note []byte) ([]byte, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.w.AddCheckpoint(ctx, old, proof, note)
}

func openAppLog(t *testing.T, sink audit.CheckpointSink) (*audit.FileLog, signing.KeySet, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.OpenFileLog(context.Background(), dir, audit.FileOptions{Signer: key(1), Stream: "app", CheckpointSink: sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	logs, _ := signing.NewKeySet(key(1).Public().(ed25519.PublicKey))
	return l, logs, dir
}

func writeRound(t *testing.T, l *audit.FileLog, round int) {
	t.Helper()
	for i := range 5 {
		if err := l.Write(context.Background(), audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: fmt.Sprint(round, i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPublisherKOfN publishes each new checkpoint to three witnesses, one
// of them down: two cosignatures are collected and stored with the
// checkpoint, the down one is named in Status, CheckStored accepts 2 of 3
// and refuses 3 of 3, and a checkpoint not yet published shows as stale.
func TestPublisherKOfN(t *testing.T) {
	ctx := context.Background()
	l, logs, dir := openAppLog(t, nil)
	w1, w2, w3 := newWitness(t, 2), newWitness(t, 3), newWitness(t, 4)
	down := w3.Key()
	store := &witness.FileStore{Path: filepath.Join(dir, "checkpoint.cosigned")}
	prover := l.Reader().Prover(logs)
	p, err := witness.NewPublisher(witness.PublisherConfig{Prover: prover, Store: store, Required: 2,
		Witnesses: []witness.Endpoint{{Key: w1.Key(), Adder: w1}, {Key: w2.Key(), Adder: w2}, {Key: down, Adder: downWitness{}}}})
	if err != nil {
		t.Fatal(err)
	}
	keys := []witness.Key{w1.Key(), w2.Key(), down}
	for round := range 3 {
		writeRound(t, l, round)
		if _, err := witness.CheckStored(ctx, store, prover, logs, keys, 2); round > 0 && !errors.Is(err, witness.ErrStale) {
			t.Fatalf("round %d before publishing: %v", round, err)
		}
		st, err := p.PublishNow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cp, _ := prover.TreeCheckpoint(ctx)
		if st.Size != cp.Size || st.Cosigned != 2 || !st.Witnessed || len(st.Failures) != 1 || st.Failures[down.Name] == "" {
			t.Fatalf("round %d: %+v", round, st)
		}
		st, err = witness.CheckStored(ctx, store, prover, logs, keys, 2)
		if err != nil || st.Cosigned != 2 || st.Size != cp.Size {
			t.Fatalf("round %d stored: %+v %v", round, st, err)
		}
		if _, err := witness.CheckStored(ctx, store, prover, logs, keys, 3); !errors.Is(err, witness.ErrTooFewCosignatures) {
			t.Fatalf("round %d, 3 of 3: %v", round, err)
		}
		// publishing the same checkpoint again asks only the witness missing
		if st, err := p.PublishNow(ctx); err != nil || st.Cosigned != 2 || len(st.Failures) != 1 {
			t.Fatalf("round %d again: %+v %v", round, st, err)
		}
	}
	// every witness down: the round reports it, the store keeps the last
	// witnessed checkpoint and the log shows as ahead of it
	writeRound(t, l, 9)
	pd, err := witness.NewPublisher(witness.PublisherConfig{Prover: prover, Store: store, Witnesses: []witness.Endpoint{{Key: down, Adder: downWitness{}}}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := pd.PublishNow(ctx); err != nil || st.Cosigned != 0 || st.Witnessed || len(st.Failures) != 1 {
		t.Fatalf("all down: %+v %v", st, err)
	}
	if st, err := witness.CheckStored(ctx, store, prover, logs, keys, 2); !errors.Is(err, witness.ErrStale) || st.Cosigned != 2 {
		t.Fatalf("after a round with every witness down: %+v %v", st, err)
	}
}

// TestPublisherNeverBlocksWrites: with the Publisher as the log's
// checkpoint sink and its only witness stuck, writes and checkpoints go
// on; once the witness answers, the newest checkpoint is cosigned.
func TestPublisherNeverBlocksWrites(t *testing.T) {
	ctx := context.Background()
	var p *witness.Publisher
	sink := audit.CheckpointSinkFunc(func(ctx context.Context, c audit.Checkpoint) error { return p.Sink().WriteCheckpoint(ctx, c) })
	l, logs, dir := openAppLog(t, sink)
	w := newWitness(t, 2)
	bw := &blockedWitness{w: w, entered: make(chan struct{}, 1), release: make(chan struct{})}
	published := make(chan witness.Status, 16)
	store := &witness.FileStore{Path: filepath.Join(dir, "checkpoint.cosigned")}
	var err error
	p, err = witness.NewPublisher(witness.PublisherConfig{Prover: l.Reader().Prover(logs), Store: store,
		Witnesses: []witness.Endpoint{{Key: w.Key(), Adder: bw}}, OnPublish: func(s witness.Status) { published <- s }})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	defer p.Close()
	writeRound(t, l, 0) // wakes the publisher, which blocks in the witness
	<-bw.entered
	for round := 1; round < 4; round++ {
		writeRound(t, l, round) // would hang here if the sink waited for the witness
	}
	close(bw.release)
	cp, _ := l.Reader().Prover(logs).TreeCheckpoint(ctx)
	for st := range published {
		if st.Size == cp.Size && st.Witnessed {
			break
		}
		p.Notify()
	}
	if _, err := witness.CheckStored(ctx, store, l.Reader().Prover(logs), logs, []witness.Key{w.Key()}, 1); err != nil {
		t.Fatalf("stored: %v", err)
	}
}

// FuzzCosignatures: arbitrary cosigned notes through VerifyCosignatures
// and a FileStore give typed errors, never panics, and a stored note is
// read back as it verifies.
func FuzzCosignatures(f *testing.F) {
	l := newLog(f)
	l.add(f, 0, 5)
	cp := l.checkpoint(f)
	w := openWitness(f, 2, filepath.Join(f.TempDir(), "state"))
	line, err := w.AddCheckpoint(context.Background(), 0, nil, cp.Note)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(append([]byte(nil), cp.Note...), line...))
	f.Add(cp.Note)
	f.Add([]byte("hipaakit.audit/app\n5\n\n— x AAAA\n"))
	f.Add([]byte("\n\n— \n"))
	keys := []witness.Key{w.Key()}
	path := filepath.Join(f.TempDir(), "cosigned")
	f.Fuzz(func(t *testing.T, note []byte) {
		os.Remove(path)
		if err := witness.VerifyCosignatures(note, keys, 1); err != nil && !errors.Is(err, witness.ErrMalformed) && !errors.Is(err, witness.ErrTooFewCosignatures) {
			t.Fatalf("untyped error: %v", err)
		}
		s := &witness.FileStore{Path: path}
		if err := s.SaveCosigned(context.Background(), "app", 5, note); err != nil {
			if !errors.Is(err, witness.ErrMalformed) {
				t.Fatalf("untyped save error: %v", err)
			}
			return
		}
		got, err := s.LatestCosigned(context.Background(), "app")
		if err != nil {
			if !errors.Is(err, witness.ErrMalformed) {
				t.Fatalf("untyped read error: %v", err)
			}
			return
		}
		if (witness.VerifyCosignatures(got, keys, 1) == nil) != (witness.VerifyCosignatures(note, keys, 1) == nil) {
			t.Fatal("the stored note verifies differently")
		}
	})
}
