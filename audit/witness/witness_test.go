package witness_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// logTree is one history of stream "app": the records' tree and checkpoints.
type logTree struct {
	tree  audit.MemoryTree
	chain *audit.Chain
	head  audit.Hash
}

func newLog(t testing.TB) *logTree {
	c, err := audit.NewChain(audit.ChainConfig{Stream: "app"})
	if err != nil {
		t.Fatal(err)
	}
	return &logTree{chain: c}
}

func (l *logTree) add(t testing.TB, from, to int) {
	for i := from; i < to; i++ {
		r, err := l.chain.Next(audit.Event{Time: t0, Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
			Actor: audit.Actor{UserID: fmt.Sprintf("u%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		line, _ := r.Marshal()
		l.tree.AppendLeaf(audit.LeafHash(line))
		l.head = r.Hash
	}
}

func (l *logTree) checkpoint(t testing.TB) audit.TreeCheckpoint {
	cp := audit.TreeCheckpoint{Stream: "app", Size: uint64(l.tree.Size()), Root: l.tree.Root(), Head: l.head, Time: t0}
	if err := audit.SignTreeCheckpoint(&cp, key(1)); err != nil {
		t.Fatal(err)
	}
	return cp
}

func newWitness(t *testing.T, seed byte) *witness.Witness {
	return openWitness(t, seed, filepath.Join(t.TempDir(), "state.json"))
}

func openWitness(t testing.TB, seed byte, state string) *witness.Witness {
	logs, _ := signing.NewKeySet(key(1).Public().(ed25519.PublicKey))
	w, err := witness.New(witness.Config{Name: fmt.Sprintf("witness.example/w%d", seed), Signer: key(seed),
		Logs: logs, StatePath: state, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestSplitViewRefused: two trees of the same size (or one not extending
// the other) are never both cosigned, over HTTP and across a restart.
func TestSplitViewRefused(t *testing.T) {
	ctx := context.Background()
	a, b := newLog(t), newLog(t)
	a.add(t, 0, 10)
	b.add(t, 100, 110)
	state := filepath.Join(t.TempDir(), "state.json")
	w := openWitness(t, 2, state)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	c := witness.Client{URL: srv.URL}
	a10 := a.checkpoint(t)
	if _, err := c.AddCheckpoint(ctx, 0, nil, a10.Note); err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	// the other history at the same size
	var ce *witness.ConflictError
	if _, err := c.AddCheckpoint(ctx, 0, nil, b.checkpoint(t).Note); !errors.As(err, &ce) || ce.Size != 10 {
		t.Fatalf("split view from 0: %v", err)
	}
	if _, err := c.AddCheckpoint(ctx, 10, nil, b.checkpoint(t).Note); !errors.Is(err, witness.ErrInconsistent) {
		t.Fatalf("split view at 10: %v", err)
	}
	// the other history grown, with its own (valid for it) proof
	b10 := b.checkpoint(t)
	b.add(t, 110, 115)
	b15 := b.checkpoint(t)
	bp, err := audit.ProveConsistency(ctx, &b.tree, b10, b15)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddCheckpoint(ctx, 10, bp, b15.Note); !errors.Is(err, witness.ErrInconsistent) {
		t.Fatalf("split view at 15: %v", err)
	}
	// after a restart the witness still holds size 10 of history a
	if _, err := openWitness(t, 2, state).AddCheckpoint(ctx, 10, nil, b10.Note); !errors.Is(err, witness.ErrInconsistent) {
		t.Fatalf("split view after a restart: %v", err)
	}
	// a checkpoint signed by another key
	forged := audit.TreeCheckpoint{Stream: "app", Size: 15, Root: b15.Root, Head: b15.Head, Time: t0}
	audit.SignTreeCheckpoint(&forged, key(9))
	if _, err := c.AddCheckpoint(ctx, 10, bp, forged.Note); !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("foreign key: %v", err)
	}
	// the genuine history grows and is cosigned
	a.add(t, 10, 15)
	a15 := a.checkpoint(t)
	ap, _ := audit.ProveConsistency(ctx, &a.tree, a10, a15)
	line, err := c.AddCheckpoint(ctx, 10, ap, a15.Note)
	if err != nil {
		t.Fatalf("consistent checkpoint: %v", err)
	}
	if err := witness.VerifyCosignatures(append(append([]byte(nil), a15.Note...), line...), []witness.Key{w.Key()}, 1); err != nil {
		t.Fatalf("cosignature: %v", err)
	}
	if err := witness.VerifyCosignatures(append(append([]byte(nil), b15.Note...), line...), []witness.Key{w.Key()}, 1); !errors.Is(err, witness.ErrTooFewCosignatures) {
		t.Fatalf("cosignature moved to the other history: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("old 1\n"), []byte("old x\n\nnote"), []byte("old 0\n!!\n\n")} {
		if _, _, _, err := witness.ParseAddRequest(bad); !errors.Is(err, witness.ErrMalformed) {
			t.Fatalf("malformed request %q: %v", bad, err)
		}
	}
}

func TestKOfNCosignatures(t *testing.T) {
	ctx := context.Background()
	a := newLog(t)
	a.add(t, 0, 5)
	cp := a.checkpoint(t)
	note := append([]byte(nil), cp.Note...)
	var keys []witness.Key
	for seed := byte(2); seed <= 4; seed++ {
		w := newWitness(t, seed)
		keys = append(keys, w.Key())
		if seed == 4 {
			continue // the third witness never saw it
		}
		line, err := w.AddCheckpoint(ctx, 0, nil, cp.Note)
		if err != nil {
			t.Fatal(err)
		}
		note = append(note, line...)
	}
	if err := witness.VerifyCosignatures(note, keys, 2); err != nil {
		t.Fatalf("2 of 3: %v", err)
	}
	if err := witness.VerifyCosignatures(note, keys, 3); !errors.Is(err, witness.ErrTooFewCosignatures) {
		t.Fatalf("3 of 3: %v", err)
	}
	// a duplicated line counts once
	dup := append(append([]byte(nil), note...), note[len(cp.Note):]...)
	if err := witness.VerifyCosignatures(dup, keys[:1], 2); !errors.Is(err, witness.ErrTooFewCosignatures) {
		t.Fatalf("duplicate counted: %v", err)
	}
	// the log's own signature still verifies with the cosignatures on
	logs, _ := signing.NewKeySet(key(1).Public().(ed25519.PublicKey))
	if _, err := audit.ParseTreeCheckpoint(note, logs, "app"); err != nil {
		t.Fatalf("cosigned note: %v", err)
	}
}

func FuzzParseAddRequest(f *testing.F) {
	f.Add([]byte("old 0\n\nhipaakit.audit/app\n1\nAAAA\n\n— x AAAA\n"))
	f.Add([]byte("old 5\n" + "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\nnote\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, _, err := witness.ParseAddRequest(b); err != nil && !errors.Is(err, witness.ErrMalformed) {
			t.Fatalf("untyped error: %v", err)
		}
		if err := witness.VerifyCosignatures(b, []witness.Key{{Name: "x", Public: key(2).Public().(ed25519.PublicKey)}}, 1); err != nil &&
			!errors.Is(err, witness.ErrMalformed) && !errors.Is(err, witness.ErrTooFewCosignatures) {
			t.Fatalf("untyped error: %v", err)
		}
	})
}

// Publish sends a file log's checkpoints to witnesses as the log grows.
func TestPublishFileLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: key(1), Stream: "app"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	logs, _ := signing.NewKeySet(key(1).Public().(ed25519.PublicKey))
	p := l.Reader().Prover(logs)
	w1, w2 := newWitness(t, 2), newWitness(t, 3)
	keys := []witness.Key{w1.Key(), w2.Key()}
	for round := range 3 {
		for i := range 7 {
			if err := l.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: fmt.Sprint(round, i)}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		note, err := witness.Publish(ctx, p, w1, w2)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := witness.VerifyCosignatures(note, keys, 2); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
