package hipaakit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/signing"
)

// replicaSet is one PostgreSQL deployment on a fresh schema whose replicas
// share a master key (by value), a signing key file and a backup directory,
// each with its own data directory.
type replicaSet struct {
	t      *testing.T
	pool   *pgxpool.Pool
	url    string
	kek    string
	signer string
	backup string
	clk    *clock.Fake
}

func newReplicaSet(t *testing.T) *replicaSet {
	pool, schema := hipaakittest.PostgresSchema(t)
	t.Cleanup(func() { dropSchema(t, schema+hipaakit.LedgerSchemaSuffix) })
	kek, err := localkek.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &replicaSet{t: t, pool: pool, url: withSearchPath(t, hipaakittest.PostgresURL(), schema), kek: kek,
		signer: filepath.Join(dir, "signing-key.pem"), backup: filepath.Join(dir, "backups"), clk: clock.NewFake(t0)}
}

// config is replica id's Config (a data directory of its own).
func (s *replicaSet) config(id string) hipaakit.Config {
	return hipaakit.Config{DataDir: filepath.Join(s.t.TempDir(), "data"), DatabaseURL: s.url, InstanceID: id,
		KEK: hipaakit.KEKConfig{Key: s.kek}, Signing: hipaakit.SigningConfig{KeyFile: s.signer},
		Backup: hipaakit.BackupConfig{Dir: s.backup}, Clock: s.clk}
}

// streams counts the rows of the audit streams, the ledger streams and the
// leases.
func (s *replicaSet) rows(ledgerSchema string) (n int) {
	ctx := context.Background()
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM hipaakit_audit_streams) +
		(SELECT count(*) FROM hipaakit_audit_records) + (SELECT count(*) FROM hipaakit_audit_checkpoints) +
		(SELECT count(*) FROM hipaakit_stream_leases)`).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	var l int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+ledgerSchema+`.hipaakit_audit_records) +
		(SELECT count(*) FROM `+ledgerSchema+`.hipaakit_audit_checkpoints)`).Scan(&l); err != nil {
		s.t.Fatal(err)
	}
	return n + l
}

// TestReplicaLeases: replicas with their own instance IDs share a schema on
// streams of their own; a second process with a live replica's ID is
// refused with *StreamHeldError; once the lease expired it is taken over,
// and the replica that lost it is no longer ready.
func TestReplicaLeases(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	a, err := hipaakit.Open(ctx, s.config("a"))
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, s.config("b"))
	if a.AuditStream() != "hipaakit-a" || b.LedgerStream() != "disposal-b" {
		t.Fatalf("streams %s %s", a.AuditStream(), b.LedgerStream())
	}
	for _, d := range []*hipaakit.Deployment{a, b} {
		if err := d.Ready(ctx); err != nil {
			t.Fatalf("%s Ready: %v", d.InstanceID, err)
		}
	}
	before := s.rows(a.LedgerSchema)
	_, err = hipaakit.Open(ctx, s.config("a"))
	var held *hipaakit.StreamHeldError
	if !errors.As(err, &held) || !errors.Is(err, hipaakit.ErrStreamHeld) || held.Instance != "a" || held.Stream != "hipaakit-a" {
		t.Fatalf("a second process as a: %v", err)
	}
	if after := s.rows(a.LedgerSchema); after != before {
		t.Fatalf("the refused start wrote %d rows", after-before)
	}
	// a stops renewing (its heartbeat runs every 10 s of real time; the
	// fake clock moves past the lease): its successor takes over.
	s.clk.Advance(hipaakit.DefaultLeaseTTL + time.Second)
	if err := a.Ready(ctx); !errors.Is(err, hipaakit.ErrNotReady) {
		t.Fatalf("a with an expired lease is ready: %v", err)
	}
	rec := httptest.NewRecorder()
	a.ReadyHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz of a: %d", rec.Code)
	}
	a2 := open(t, s.config("a"))
	if err := a2.Ready(ctx); err != nil {
		t.Fatalf("the successor of a: %v", err)
	}
	if _, err := a2.Vault.Seal(ctx, phi.Binding{Subject: "p1", Field: "f"}, []byte("x")); err != nil {
		t.Fatalf("the successor writes: %v", err)
	}
	// a finds its stream taken over when it closes, and says so.
	if err := a.Close(); err == nil {
		t.Fatal("a closed a stream it no longer held without an error")
	}
}

// TestRefusedStartsWriteNothing is the bricking sequence: on a live
// deployment that has shredded a subject, starts with a missing signing
// key, a foreign signing key and a missing master key are refused, write
// nothing, and the deployment keeps running and restarting.
func TestRefusedStartsWriteNothing(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	a, err := hipaakit.Open(ctx, s.config("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Vault.Seal(ctx, phi.Binding{Subject: "p1", Field: "f"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Shredder.Shred(ctx, "p1", "test"); err != nil {
		t.Fatal(err)
	}
	before := s.rows(a.LedgerSchema)

	missing := s.config("b")
	missing.Signing.KeyFile = filepath.Join(t.TempDir(), "none.pem")
	if _, err := hipaakit.Open(ctx, missing); !errors.Is(err, hipaakit.ErrSigningKeyMissing) {
		t.Fatalf("start without the signing key: %v", err)
	}
	foreign := s.config("c")
	foreign.Signing.KeyFile = filepath.Join(t.TempDir(), "foreign.pem")
	if _, err := signing.LoadOrCreate(foreign.Signing.KeyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := hipaakit.Open(ctx, foreign); !errors.Is(err, hipaakit.ErrLedgerUntrusted) {
		t.Fatalf("start with a foreign signing key: %v", err)
	}
	nokek := s.config("d")
	nokek.KEK = hipaakit.KEKConfig{}
	if _, err := hipaakit.Open(ctx, nokek); !errors.Is(err, hipaakit.ErrWrongKEK) {
		t.Fatalf("start without the master key: %v", err)
	}
	if _, err := os.Stat(hipaakit.DefaultKeyFile(nokek.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused start left a master key behind: %v", err)
	}

	if after := s.rows(a.LedgerSchema); after != before {
		t.Fatalf("the refused starts wrote %d rows", after-before)
	}
	// The deployment runs on, restarts, and a replica with the shared
	// signing key joins it.
	if _, err := a.Vault.Seal(ctx, phi.Binding{Subject: "p2", Field: "f"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = open(t, s.config("a"))
	b := open(t, s.config("b"))
	if _, err := b.Vault.Seal(ctx, phi.Binding{Subject: "p1", Field: "f"}, []byte("y")); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("seal for the shredded subject on b: %v", err)
	}
	// A replica with a signing key of its own joins once it trusts the
	// deployment's key.
	own := s.config("e")
	own.Signing.KeyFile = foreign.Signing.KeyFile
	own.Signing.Trusted = mustKeySet(t, a.TrustedKeys().Keys()[0])
	open(t, own)
}

// TestDefaultInstanceID: without InstanceID a process is named after its
// host plus a suffix drawn on its first successful start and kept in the
// data directory; a refused start draws none.
func TestDefaultInstanceID(t *testing.T) {
	cfg, _ := embedded(t, nil)
	cfg.InstanceID = ""
	d := open(t, cfg)
	id := d.InstanceID
	if !hipaakit.ValidInstanceID(id) || !strings.Contains(id, "-") {
		t.Fatalf("default instance ID %q", id)
	}
	d.Close()
	if d = open(t, cfg); d.InstanceID != id {
		t.Fatalf("the instance ID changed across a restart: %q, then %q", id, d.InstanceID)
	}
	d.Close()

	refused, _ := embedded(t, nil)
	refused.KEK.Key = "not a key"
	if _, err := hipaakit.Open(context.Background(), refused); err == nil {
		t.Fatal("a malformed master key was accepted")
	}
	if _, err := os.Stat(filepath.Join(refused.DataDir, hipaakit.FileInstanceID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused start persisted an instance ID: %v", err)
	}
	bad := cfg
	bad.InstanceID = "no/slash"
	if _, err := hipaakit.Open(context.Background(), bad); !errors.Is(err, hipaakit.ErrUnsafeConfig) {
		t.Fatalf("InstanceID with a slash: %v", err)
	}
}

// TestReplicasShareThrottles: the client-key and unknown-name throttles
// live in PostgreSQL, so failures on one replica count on the others and
// every replica answers alike.
func TestReplicasShareThrottles(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	cfgA, cfgB := s.config("a"), s.config("b")
	cfgA.Auth.Lockout.ClientFreeFailures, cfgB.Auth.Lockout.ClientFreeFailures = 3, 3
	a, b := open(t, cfgA), open(t, cfgB)
	o := audit.Origin{Channel: audit.ChannelAPI}
	try := func(d *hipaakit.Deployment, client, name string) error {
		_, err := d.Auth.Login(ctx, auth.LoginRequest{TenantID: "t1", Name: name, Password: "wrong password, long enough",
			ClientKey: client, Origin: o})
		return err
	}
	var answers []bool
	for i := range 6 {
		err := try([]*hipaakit.Deployment{a, b}[i%2], "198.51.100.7", "nobody")
		if err == nil {
			t.Fatal("a login with a wrong password succeeded")
		}
		answers = append(answers, errors.Is(err, auth.ErrThrottled))
	}
	want := []bool{false, false, false, true, true, true}
	for i := range want {
		if answers[i] != want[i] {
			t.Fatalf("throttled answers across a and b = %v, want %v (the client's failures are not shared)", answers, want)
		}
	}
	// The unknown name is throttled for every client on both replicas;
	// another client trying another name is not.
	for _, d := range []*hipaakit.Deployment{a, b} {
		if err := try(d, "198.51.100.8", "nobody"); !errors.Is(err, auth.ErrThrottled) {
			t.Fatalf("%s does not throttle the unknown name: %v", d.InstanceID, err)
		}
		if err := try(d, "198.51.100.9", "someone-"+d.InstanceID); errors.Is(err, auth.ErrThrottled) {
			t.Fatalf("%s throttles an innocent client: %v", d.InstanceID, err)
		}
	}
}

// TestOneOwnerPerStream: processes started at once under one instance ID
// (copies of one data directory) get exactly one start; the others are
// refused with ErrStreamHeld.
func TestOneOwnerPerStream(t *testing.T) {
	const n = 4
	s := newReplicaSet(t)
	// The first start creates the schema and the signing key; the race
	// is for the lease of a second instance's streams.
	open(t, s.config("first"))
	ds := make([]*hipaakit.Deployment, n)
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		cfg := s.config("twin")
		wg.Go(func() {
			start.Wait()
			ds[i], errs[i] = hipaakit.Open(context.Background(), cfg)
		})
	}
	start.Done()
	wg.Wait()
	opened := 0
	for i := range n {
		if errs[i] == nil {
			opened++
			t.Cleanup(func() { ds[i].Close() })
		} else if !errors.Is(errs[i], hipaakit.ErrStreamHeld) {
			t.Fatalf("start %d: %v", i, errs[i])
		}
	}
	if opened != 1 {
		t.Fatalf("%d of %d starts under one instance ID succeeded, want 1", opened, n)
	}
}
