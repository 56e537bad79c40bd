package audit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

var testTime = time.Date(2026, 11, 22, 6, 30, 0, 123456789, time.UTC)

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

func sampleEvent(i int) Event {
	return Event{
		Action:  ActionRead,
		Outcome: OutcomeSuccess,
		Actor:   Actor{UserID: "u-" + string(rune('a'+i%26)), Role: "clinician", SessionID: "s1"},
		Origin:  Origin{Channel: ChannelWeb, ClientIP: "10.0.0.1", RequestID: "req", Route: "GET /patients/{id}", UserAgent: "ua\n{\"forged\":1}\t\x01\x7f"},
		Target:  Target{RecordType: "patient", RecordID: "p-1", Field: "dob", Subject: "subj-1"},
		Purpose: "treatment",
		Change:  &Change{New: []byte{1, 2, 3}, Prior: []byte{4}},
		Attrs:   map[string]string{"b": "2", "a": "1\"quote"},
	}
}

func buildChain(t *testing.T, n int) ([][]byte, []Record) {
	t.Helper()
	c, err := NewChain(ChainConfig{Stream: "main", Clock: clock.NewFake(testTime)})
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	var recs []Record
	for i := 0; i < n; i++ {
		line, r, err := c.AppendNext(nil, sampleEvent(i))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
		recs = append(recs, r)
	}
	return lines, recs
}

func TestChainRoundTripAndVerify(t *testing.T) {
	lines, recs := buildChain(t, 5)
	for i, line := range lines {
		if bytes.Count(line, []byte("\n")) != 0 {
			t.Fatalf("line %d contains a raw newline", i)
		}
		r, err := ParseRecord(line)
		if err != nil {
			t.Fatalf("parse %d: %v", i, err)
		}
		again, err := r.Marshal()
		if err != nil || !bytes.Equal(again, line) {
			t.Fatalf("round trip %d: %v\n%s\n%s", i, err, line, again)
		}
		h, err := r.ComputeHash()
		if err != nil || h != recs[i].Hash || r.Hash != h {
			t.Fatalf("hash %d mismatch", i)
		}
	}
	key := testKey(t)
	cp := Checkpoint{Stream: "main", Seq: 5, Head: recs[4].Hash, Time: testTime, Reason: CheckpointClose}
	if err := cp.Sign(key); err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(VerifyOptions{Keys: mustKeySet(t, key.Public().(ed25519.PublicKey)), RequireSealed: true})
	for _, l := range lines {
		if err := v.Line(l); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := cp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Line(cl); err != nil {
		t.Fatal(err)
	}
	res, err := v.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Streams) != 1 || res.Streams[0].LastSeq != 5 || res.Streams[0].Unsealed != 0 {
		t.Fatalf("result %+v", res)
	}
	// modified record
	bad := bytes.Replace(lines[2], []byte(`"dob"`), []byte(`"ssn"`), 1)
	v = NewVerifier(VerifyOptions{})
	var ferr error
	for _, l := range [][]byte{lines[0], lines[1], bad, lines[3]} {
		if ferr = v.Line(l); ferr != nil {
			break
		}
	}
	var ve *VerifyError
	if !errors.As(ferr, &ve) || ve.Seq != 3 || ve.Problem != ProblemModified || !errors.Is(ferr, ErrChainBroken) {
		t.Fatalf("modified: %v", ferr)
	}
}

// mustKeySet is the signing.KeySet of keys.
func mustKeySet(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
