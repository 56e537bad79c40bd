package hipaakit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/signing"
)

// testWitness runs a witness of logKeys on a loopback HTTP server; it
// stops with the test (or earlier, by Close).
func testWitness(t *testing.T, seed byte, logKeys signing.KeySet) (*httptest.Server, witness.Key) {
	t.Helper()
	wk := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	w, err := witness.New(witness.Config{Name: fmt.Sprintf("witness.example/w%d", seed), Signer: wk, Logs: logKeys,
		StatePath: filepath.Join(t.TempDir(), "state")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return srv, w.Key()
}

// presetSigningKey writes a signing key to a file (the witnesses must
// know the log's key before the deployment opens) and returns it.
func presetSigningKey(t *testing.T) (string, signing.KeySet) {
	t.Helper()
	k, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := signing.Save(file, k); err != nil {
		t.Fatal(err)
	}
	keys, err := signing.NewKeySet(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return file, keys
}

// waitWitnessed waits for the background publisher's round that
// witnesses a checkpoint of at least size (it runs on its own goroutine,
// woken by the log's checkpoint sink).
func waitWitnessed(t *testing.T, d *hipaakit.Deployment, size uint64) witness.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, ok := d.WitnessStatus()
		if !ok {
			t.Fatal("WitnessStatus: no witnesses configured")
		}
		if st.Witnessed && st.Size >= size {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checkpoint of size %d was never witnessed: %+v", size, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type checkpointer interface {
	Checkpoint(context.Context) (audit.Checkpoint, error)
}

// TestWitnessesFromConfigEmbedded: with Config.Witnesses, every new
// checkpoint of the embedded log reaches the witnesses through the log's
// checkpoint sink, 2 of 2 cosign it and the cosignatures are where
// witness-status reads them; with one witness down the next checkpoint is
// cosigned by 1 of 2, the status names the failing witness, and the
// deployment stays ready.
func TestWitnessesFromConfigEmbedded(t *testing.T) {
	ctx := context.Background()
	cfg, clk := embedded(t, nil)
	file, keys := presetSigningKey(t)
	cfg.Signing.KeyFile = file
	srv1, k1 := testWitness(t, 1, keys)
	srv2, k2 := testWitness(t, 2, keys)
	cfg.Witnesses = hipaakit.WitnessConfig{Required: 2, Endpoints: []hipaakit.WitnessEndpoint{
		{URL: srv1.URL, Key: k1}, {URL: srv2.URL, Key: k2}}}
	d := open(t, cfg)
	login(t, d, clk, "alice")
	cp, err := d.Audit.(checkpointer).Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := waitWitnessed(t, d, cp.Seq)
	if st.Cosigned != 2 || st.Required != 2 || len(st.Failures) != 0 {
		t.Fatalf("status: %+v", st)
	}
	prover, _ := d.Prover("")
	if _, err := witness.CheckStored(ctx, d.CosignatureStore(), prover, d.TrustedKeys(), []witness.Key{k1, k2}, 2); err != nil {
		t.Fatalf("stored: %v", err)
	}

	srv2.Close()
	login(t, d, clk, "bob")
	cp2, err := d.Audit.(checkpointer).Checkpoint(ctx)
	if err != nil || cp2.Seq <= cp.Seq {
		t.Fatalf("second checkpoint: %d after %d, %v", cp2.Seq, cp.Seq, err)
	}
	st, err = d.PublishWitnesses(ctx)
	if err != nil {
		t.Fatalf("PublishWitnesses: %v", err)
	}
	if st.Size != cp2.Seq || st.Cosigned != 1 || st.Witnessed || st.Failures[k2.Name] == "" || st.Failures[k1.Name] != "" {
		t.Fatalf("status with a witness down: %+v", st)
	}
	if got, _ := d.WitnessStatus(); got.Size != st.Size || got.Witnessed {
		t.Fatalf("WitnessStatus: %+v", got)
	}
	if err := d.Ready(ctx); err != nil {
		t.Fatalf("Ready with a witness down: %v", err)
	}
	_, err = witness.CheckStored(ctx, d.CosignatureStore(), prover, d.TrustedKeys(), []witness.Key{k1, k2}, 2)
	if !errors.Is(err, witness.ErrTooFewCosignatures) {
		t.Fatalf("CheckStored with 1 of 2: %v", err)
	}
}

// TestWitnessesFromConfigPostgres: a PostgreSQL replica publishes its
// stream's newest checkpoint as it starts (the one its previous run
// signed at Close) and on demand; the cosignature is stored in the schema.
func TestWitnessesFromConfigPostgres(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	srv, k := testWitness(t, 3, s.signerKeys())
	cfg := s.config("api-1")
	d, err := hipaakit.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := d.Audit.Write(ctx, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil { // signs the stream's checkpoint
		t.Fatal(err)
	}
	cfg.Witnesses = hipaakit.WitnessConfig{Endpoints: []hipaakit.WitnessEndpoint{{URL: srv.URL, Key: k}}}
	d = open(t, cfg)
	st := waitWitnessed(t, d, 5)
	if st.Stream != d.AuditStream() || st.Cosigned != 1 {
		t.Fatalf("status: %+v", st)
	}
	prover, _ := d.Prover("")
	if _, err := witness.CheckStored(ctx, d.CosignatureStore(), prover, d.TrustedKeys(), []witness.Key{k}, 1); err != nil {
		t.Fatalf("stored: %v", err)
	}
	if st, err := d.PublishWitnesses(ctx); err != nil || !st.Witnessed {
		t.Fatalf("PublishWitnesses: %+v %v", st, err)
	}
}

// TestNoWitnesses: without Config.Witnesses nothing is published and the
// status says so.
func TestNoWitnesses(t *testing.T) {
	cfg, _ := embedded(t, nil)
	d := open(t, cfg)
	if _, ok := d.WitnessStatus(); ok {
		t.Fatal("WitnessStatus reports witnesses that are not configured")
	}
	if _, err := d.PublishWitnesses(context.Background()); !errors.Is(err, hipaakit.ErrNoWitnesses) {
		t.Fatalf("PublishWitnesses: %v", err)
	}
}

// testEvent is a valid audit event (a read of one patient record).
func testEvent(i int) audit.Event {
	return audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
		Actor:  audit.Actor{UserID: fmt.Sprintf("u-%d", i%3), Role: "nurse"},
		Origin: audit.Origin{Channel: audit.ChannelAPI, Route: "GET /patients/{id}"},
		Target: audit.Target{RecordType: "patient", RecordID: fmt.Sprintf("r-%d", i), Subject: "p-1"}}
}

// signerKeys creates the replicas' shared signing key now (Open would on
// first start) and returns its public key as a KeySet.
func (s *replicaSet) signerKeys() signing.KeySet {
	s.t.Helper()
	k, err := signing.Generate()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := signing.Save(s.signer, k); err != nil {
		s.t.Fatal(err)
	}
	keys, err := signing.NewKeySet(k.PublicKey())
	if err != nil {
		s.t.Fatal(err)
	}
	return keys
}

// TestValidateWitnessesAndArchive: incomplete or unsafe witness and
// archive settings are refused before anything is created, with a
// *ConfigError naming the field and saying what to do.
func TestValidateWitnessesAndArchive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key := witness.Key{Name: "witness.example/w1", Public: make(ed25519.PublicKey, 32)}
	ep := func(url string, k witness.Key) hipaakit.WitnessConfig {
		return hipaakit.WitnessConfig{Endpoints: []hipaakit.WitnessEndpoint{{URL: url, Key: k}}}
	}
	two := hipaakit.WitnessConfig{Endpoints: []hipaakit.WitnessEndpoint{{URL: "https://w.example", Key: key}, {URL: "https://v.example", Key: key}}}
	tooMany := ep("https://w.example", key)
	tooMany.Required = 2
	noEndpoint := hipaakit.WitnessConfig{Required: 1}
	negative := ep("https://w.example", key)
	negative.Interval = -time.Second
	for name, tc := range map[string]struct {
		cfg         hipaakit.Config
		field, want string
	}{
		"plain http off loopback": {hipaakit.Config{DataDir: dir, Witnesses: ep("http://witness.example", key)},
			"Witnesses.Endpoints[0].URL", "use https://"},
		"not a URL":         {hipaakit.Config{DataDir: dir, Witnesses: ep("witness.example", key)}, "Witnesses.Endpoints[0].URL", "give https://"},
		"credentials":       {hipaakit.Config{DataDir: dir, Witnesses: ep("https://u:p@w.example", key)}, "Witnesses.Endpoints[0].URL", "without credentials"},
		"no key":            {hipaakit.Config{DataDir: dir, Witnesses: ep("https://w.example", witness.Key{Name: "w"})}, "Witnesses.Endpoints[0].Key", "public key"},
		"bad key name":      {hipaakit.Config{DataDir: dir, Witnesses: ep("https://w.example", witness.Key{Name: "a b", Public: key.Public})}, "Witnesses.Endpoints[0].Key", "public key"},
		"witness twice":     {hipaakit.Config{DataDir: dir, Witnesses: two}, "Witnesses.Endpoints[1].Key", "list each witness once"},
		"K above N":         {hipaakit.Config{DataDir: dir, Witnesses: tooMany}, "Witnesses.Required", "from 1 to 1"},
		"K without any":     {hipaakit.Config{DataDir: dir, Witnesses: noEndpoint}, "Witnesses.Endpoints", "add the witnesses"},
		"negative interval": {hipaakit.Config{DataDir: dir, Witnesses: negative}, "Witnesses.Interval", "positive durations"},
		"archive inside the data dir": {hipaakit.Config{DataDir: dir, AuditArchive: hipaakit.AuditArchiveConfig{Dir: filepath.Join(dir, "archive")}},
			"AuditArchive.Dir", "outside DataDir"},
		"two archive targets": {hipaakit.Config{DataDir: dir, AuditArchive: hipaakit.AuditArchiveConfig{Dir: "/a", InBackupTarget: true}},
			"AuditArchive", "set one of"},
		"archive age without a target": {hipaakit.Config{DataDir: dir, AuditArchive: hipaakit.AuditArchiveConfig{After: time.Hour}},
			"AuditArchive", "set AuditArchive.Dir"},
		"negative age": {hipaakit.Config{DataDir: dir, AuditArchive: hipaakit.AuditArchiveConfig{InBackupTarget: true, After: -time.Hour}},
			"AuditArchive.After", "positive durations"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := hipaakit.Open(context.Background(), tc.cfg)
			var ce *hipaakit.ConfigError
			if !errors.Is(err, hipaakit.ErrUnsafeConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("Open: %v, want a ConfigError on %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("message %q does not say %q", err, tc.want)
			}
			if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
				t.Fatalf("a refused Open created the data directory: %v", serr)
			}
		})
	}
	// a loopback witness over plain HTTP and the backup target are accepted
	ok := hipaakit.Config{DataDir: dir, Witnesses: ep("http://127.0.0.1:9", key),
		AuditArchive: hipaakit.AuditArchiveConfig{InBackupTarget: true}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}
