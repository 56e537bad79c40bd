package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

func ExampleOpenFileLog() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example-")
	defer os.RemoveAll(dir)
	// In production the key comes from your key management; the public key
	// goes to whoever verifies the trail.
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))

	log, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: key})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = log.Write(ctx, audit.Event{
		Action:  audit.ActionRead,
		Outcome: audit.OutcomeSuccess,
		Actor:   audit.Actor{UserID: "u-42", Role: "nurse"},
		Origin:  audit.Origin{Channel: audit.ChannelWeb, Route: "GET /patients/{id}"},
		Target:  audit.Target{RecordType: "patient", RecordID: "p-7", Field: "dob", Subject: "s-7"},
		Purpose: "treatment",
	})
	fmt.Println("acknowledged:", err == nil)
	if err := log.Close(); err != nil { // writes a signed closing checkpoint
		fmt.Println(err)
		return
	}

	keys, err := signing.NewKeySet(key.Public().(ed25519.PublicKey))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := audit.VerifyDir(ctx, dir, audit.VerifyOptions{
		Keys:          keys,
		RequireSealed: true,
	})
	if err != nil {
		fmt.Println(err) // a *VerifyError naming the first bad record
		return
	}
	s := res.Streams[0]
	fmt.Printf("stream %s: %d record(s), sealed through seq %d\n", s.Stream, s.Records, s.CheckpointSeq)
	// Output:
	// acknowledged: true
	// stream audit: 1 record(s), sealed through seq 1
}

func ExampleChain() {
	// A custom writer keeps one Chain per stream and stores each Record
	// (or its canonical line) before acknowledging.
	chain, _ := audit.NewChain(audit.ChainConfig{Stream: "api-1"})
	line, rec, err := chain.AppendNext(nil, audit.Event{
		Time:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Action:  audit.ActionLogin,
		Outcome: audit.OutcomeFailure,
		Reason:  "invalid_credentials",
		Origin:  audit.Origin{UserAgent: "evil\n{\"action\":\"forged\"}"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Seq, rec.Prev.IsZero())
	fmt.Println(string(line[:len(`{"event":{"action":"login","actor":{},"origin":{"user_agent":"evil\n{\"action\":\"forged\"}"}`)]))
	// Output:
	// 1 true
	// {"event":{"action":"login","actor":{},"origin":{"user_agent":"evil\n{\"action\":\"forged\"}"}
}

func ExampleFileLog_Purge() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example-")
	defer os.RemoveAll(dir)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	log, _ := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: key})
	defer log.Close()

	// Preview: nothing is older than six years in a new log.
	rep, err := log.Purge(ctx, audit.PurgeOptions{
		DryRun: true,
		Held:   func(r *audit.Record) bool { return r.Event.Target.Subject == "s-under-hold" },
	})
	fmt.Println(err, len(rep.Purged), rep.StoppedBy)
	// Output: <nil> 0 active
}

func ExampleVerifier() {
	// A store that keeps records in rows (like audit/pgaudit) feeds them to
	// a Verifier in sequence order; memory stays constant.
	chain, _ := audit.NewChain(audit.ChainConfig{Stream: "api-1"})
	var rows []audit.Record
	for _, who := range []string{"u-1", "u-2", "u-3"} {
		r, _ := chain.Next(audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: who}})
		rows = append(rows, r)
	}
	rows[1].Event.Actor.UserID = "someone-else" // tampered at rest

	v := audit.NewVerifier(audit.VerifyOptions{})
	for i := range rows {
		if err := v.Record(&rows[i]); err != nil {
			break
		}
	}
	_, err := v.Finish()
	fmt.Println(err)
	// Output: audit: verification failed at stream "api-1" seq 2: modified: hash chain broken
}
