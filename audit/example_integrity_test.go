package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

func ExampleVerifiedSearcher() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	l, _ := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: key})
	l.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
		Actor: audit.Actor{UserID: "u-1"}, Target: audit.Target{Subject: "p-1"}})
	l.Close()

	r, _ := audit.OpenFileReader(dir)
	keys, _ := signing.NewKeySet(key.Public().(ed25519.PublicKey))
	opts := audit.VerifyOptions{Keys: keys}
	s := audit.VerifiedSearcher(r.Entries, opts) // or pgaudit.NewStore(pool).Entries
	page, err := audit.Query(ctx, s, audit.Filter{Subject: "p-1"})
	fmt.Println(len(page.Records), err)
	// Output: 1 <nil>
}

func ExampleLatestCheckpoints() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(tmp)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Public().(ed25519.PublicKey)
	sink, _ := audit.OpenCheckpointFile(filepath.Join(tmp, "checkpoints.jsonl")) // on another disk
	l, _ := audit.OpenFileLog(ctx, filepath.Join(tmp, "log"), audit.FileOptions{Signer: key, CheckpointSink: sink})
	l.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: "u-1"}})
	l.Close()
	sink.Close()

	// only checkpoints signed by a trusted key are returned
	expect, err := audit.LatestCheckpoints(filepath.Join(tmp, "checkpoints.jsonl"), pub)
	if err != nil {
		fmt.Println(err) // a forged line: bad signature at its line
	}
	keys, _ := signing.NewKeySet(pub)
	_, err = audit.VerifyDir(ctx, filepath.Join(tmp, "log"), audit.VerifyOptions{Keys: keys, Expect: expect})
	fmt.Println(len(expect), err)
	// Output: 1 <nil>
}

func ExampleSixYearsAfter() {
	written := time.Date(2024, 2, 29, 9, 0, 0, 0, time.UTC)
	fmt.Println(audit.SixYearsAfter(written).Format(time.DateOnly))
	fmt.Println(audit.CheckRetention(24*time.Hour, false, time.Now()) != nil)
	// Output:
	// 2030-03-01
	// true
}
