package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/signing"
)

// TestReplicaProcesses starts three clinic processes, built once, on one
// PostgreSQL schema (separate data directories, one master key, one signing
// key file, one backup directory, an instance ID each) and, under a
// bounded load:
//   - a session from one replica works on the others;
//   - `hipaakit audit verify`, the CLI as a process, passes while the
//     replicas write;
//   - a replica killed with SIGKILL is refused while its lease lives and
//     comes back once it expired, the others serving throughout;
//   - every acknowledged write is present on every replica afterwards and
//     has its audit event;
//   - a role change and a disabling made on one replica take effect on all
//     at the next request;
//   - a replica whose database connections are all terminated (its pool's
//     and its key-change listener's) serves its next requests and listens
//     again, without a restart of it or of the others;
//   - a shred on one replica answers 410 on all within a second.
func TestReplicaProcesses(t *testing.T) {
	ctx := context.Background()
	began := time.Now()
	phase := func(what string) { t.Logf("%5.1fs %s", time.Since(began).Seconds(), what) }
	bins := t.TempDir()
	build := exec.Command("go", "build", "-o", bins+string(filepath.Separator), ".", "github.com/hipaakit/hipaakit/cmd/hipaakit")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the clinic and the CLI: %v: %s", err, out)
	}
	phase("built")
	bin, cli := filepath.Join(bins, "clinic"), filepath.Join(bins, "hipaakit")
	pool, schema := hipaakittest.PostgresSchema(t)
	t.Cleanup(func() { pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`_ledger" CASCADE`) })
	dsn := withSearchPath(t, hipaakittest.PostgresURL(), schema)
	kek, _ := localkek.Generate()
	shared := t.TempDir()
	signKey := filepath.Join(shared, "signing-key.pem")
	key, err := signing.LoadOrCreate(signKey)
	if err != nil {
		t.Fatal(err)
	}
	pubKey := filepath.Join(shared, "audit-key.pub.pem")
	if err := os.WriteFile(pubKey, key.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	var procs []*replicaProc
	for i, id := range []string{"r1", "r2", "r3"} {
		p := &replicaProc{id: id, args: []string{"-addr", "127.0.0.1:0", "-no-tls", "-data", filepath.Join(t.TempDir(), "data"),
			"-instance-id", id, "-signing-key", signKey, "-backup-dir", filepath.Join(shared, "backups"), "-lease-ttl", "3s",
			fmt.Sprintf("-seed=%t", i == 0)},
			env: append(os.Environ(), "DATABASE_URL="+dsn, "HIPAAKIT_MASTER_KEY="+kek)}
		if err := p.start(t, bin); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.cmd.Process.Signal(syscall.SIGTERM) })
		procs = append(procs, p)
	}
	r1, r2, r3 := procs[0], procs[1], procs[2]
	seedOut := r1.out.String()
	plain := &http.Client{Timeout: 5 * time.Second}
	for _, p := range procs {
		if code := get(t, plain, p.url+"/readyz"); code != http.StatusOK {
			t.Fatalf("%s /readyz = %d", p.id, code)
		}
	}
	phase("3 replicas started")
	phys := signIn(t, seedOut, rolePhysician, r1)
	everyReplica(t, phys, procs, "/api/auth/session", http.StatusOK, "r1's session")

	// Load: four clients create patients on r1 and r2 in turn until the
	// checks below are done (at most 25 each: every acknowledged write is
	// checked on every replica afterwards).
	var mu sync.Mutex
	var acked []string
	var nAcked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for n := 0; n < 25; n++ {
				select {
				case <-stop:
					return
				default:
				}
				p := procs[(c+n)%2] // r1 and r2; r3 is killed below
				var out struct{ ID string }
				st := postJSON(t, phys.hc, p.url+"/api/patients", phys.csrf, map[string]string{"mrn": fmt.Sprintf("MRN-%d-%d", c, n),
					"name": "Load Patient", "dob": "1970-01-02", "zip": "02139"}, &out)
				if st == http.StatusCreated {
					mu.Lock()
					acked = append(acked, out.ID)
					mu.Unlock()
					nAcked.Add(1)
				}
			}
		})
	}
	// The CLI's audit verify passes while the replicas write: runs of it
	// until one saw writes acknowledged while it ran (every run must pass).
	verifyRuns, overlapped := 0, false
	for !overlapped && verifyRuns < 10 {
		before := nAcked.Load()
		var out bytes.Buffer
		v := exec.Command(cli, "audit", "verify", "--key", pubKey, "pg")
		v.Env = append(os.Environ(), "DATABASE_URL="+dsn)
		v.Stdout, v.Stderr = &out, &out
		if err := v.Run(); err != nil {
			t.Fatalf("hipaakit audit verify under load (run %d): %v: %s", verifyRuns+1, err, out.String())
		}
		verifyRuns++
		overlapped = nAcked.Load() > before
	}
	if !overlapped {
		t.Fatalf("no write was acknowledged during any of %d runs of hipaakit audit verify", verifyRuns)
	}

	phase(fmt.Sprintf("%d verify runs", verifyRuns))
	// SIGKILL r3: its lease outlives it, so a restart is refused until the
	// lease expired (3 s); the others serve throughout.
	r3.kill()
	if err := r3.start(t, bin); err == nil || !strings.Contains(err.Error(), "held by instance r3") {
		t.Fatalf("restart of r3 while its lease lives: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r3.start(t, bin) != nil {
		if time.Now().After(deadline) {
			t.Fatal("r3 did not come back within 10 s of its lease's expiry")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st := get(t, plain, r3.url+"/readyz"); st != http.StatusOK {
		t.Fatalf("r3 /readyz after its restart = %d", st)
	}
	phase("r3 restarted")
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged under load")
	}
	trail := pgaudit.NewStore(pool)
	for _, id := range acked {
		everyReplica(t, phys, procs, "/api/patients/"+id, http.StatusOK, "acknowledged patient "+id)
		found := false
		for r, err := range trail.Search(ctx, audit.Filter{Subject: id, Actions: []audit.Action{audit.ActionCreate}}) {
			if err != nil {
				t.Fatal(err)
			}
			found = found || r.Event.Outcome == audit.OutcomeSuccess
		}
		if !found {
			t.Fatalf("acknowledged patient %s has no create event", id)
		}
	}
	if _, err := trail.Verify(ctx, audit.VerifyOptions{Keys: mustKeySet(t, key.PublicKey())}); err != nil {
		t.Fatalf("the trail does not verify after the load: %v", err)
	}
	t.Logf("%d acknowledged writes checked on 3 replicas; %d verify runs under load", len(acked), verifyRuns)

	phase("acknowledged writes checked")
	// A role change on r2 and a disabling on r3 take effect on every
	// replica at the nurse's next request.
	patient := "/api/patients/" + acked[len(acked)-1]
	nurse := signIn(t, seedOut, roleNurse, r1)
	everyReplica(t, nurse, procs, patient, http.StatusOK, "the nurse before the role change")
	admin := signIn(t, seedOut, roleAdmin, r2)
	var users []userView
	if st := send(t, admin.hc, http.MethodGet, r2.url+"/api/admin/users", "", nil, &users); st != http.StatusOK {
		t.Fatalf("list users on r2: %d", st)
	}
	nurseID := ""
	for _, u := range users {
		if len(u.Roles) == 1 && u.Roles[0] == roleNurse {
			nurseID = u.ID
		}
	}
	if st := send(t, admin.hc, http.MethodPut, r2.url+"/api/admin/users/"+nurseID+"/roles", admin.csrf,
		map[string][]string{"roles": {roleAuditor}}, nil); st != http.StatusAccepted {
		t.Fatalf("role change request on r2: %d", st)
	}
	// The auditor reads PHI (audit_review): the second administrator
	// approves the grant, on r3.
	admin2 := signInUser(t, seedOut, roleAdmin, secondAdmin, r3)
	if st := send(t, admin2.hc, http.MethodPost, r3.url+"/api/admin/users/"+nurseID+"/roles/approve", admin2.csrf,
		map[string]string{}, nil); st != http.StatusNoContent {
		t.Fatalf("role change approval on r3: %d", st)
	}
	everyReplica(t, nurse, procs, patient, http.StatusForbidden, "the nurse made auditor")
	everyReplica(t, nurse, procs, "/api/auth/session", http.StatusOK, "the auditor's session")
	if st := send(t, admin.hc, http.MethodPut, r3.url+"/api/admin/users/"+nurseID+"/status", admin.csrf,
		map[string]string{"status": "disabled"}, nil); st != http.StatusNoContent {
		t.Fatalf("disabling on r3: %d", st)
	}
	everyReplica(t, nurse, procs, "/api/auth/session", http.StatusUnauthorized, "the disabled user's session")

	phase("role change and disabling")
	droppedConnections(t, ctx, pool, procs, phys, patient)

	phase("dropped connections")
	// A shred through r1 answers 410 on all three within a second.
	shredded := "/api/patients/" + acked[0]
	everyReplica(t, phys, procs, shredded, http.StatusOK, "before the shred")
	if st := postJSON(t, admin.hc, r1.url+shredded+"/shred", admin.csrf,
		map[string]string{"reason": "patient request"}, nil); st != http.StatusOK {
		t.Fatalf("shred on r1: %d", st)
	}
	shredAt := time.Now()
	for _, p := range procs {
		for get(t, phys.hc, p.url+shredded) != http.StatusGone {
			if time.Since(shredAt) > time.Second {
				t.Fatalf("%s still serves the shredded patient a second after the shred", p.id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	phase("shred")
}

// droppedConnections terminates every database connection of r2 (its
// pool's and its key-change listener's, found by the process's sockets):
// r2's next requests succeed, its listener connects again, the others
// served throughout, and none of them was restarted.
func droppedConnections(t *testing.T, ctx context.Context, pool *pgxpool.Pool, procs []*replicaProc, s demoSession, path string) {
	t.Helper()
	r2 := procs[1]
	port := int(pool.Config().ConnConfig.Port)
	before := backends(t, ctx, pool, r2.cmd.Process.Pid, port)
	listeners := 0
	for _, app := range before {
		if app == pgstore.ListenerApplicationName {
			listeners++
		}
	}
	if listeners != 1 || len(before) < 2 {
		t.Fatalf("r2's connections before: %v, want its pool's and one key-change listener", before)
	}
	for pid := range before {
		var ok bool
		if err := pool.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate backend %d: %v %v", pid, ok, err)
		}
	}
	// A pooled connection is found dead when it is next used: each of
	// them fails the one request that finds it (503, fail closed; never a
	// 2xx nor a 500) and is replaced. So at most as many requests fail as
	// r2 had pool connections; after those, 20 in a row succeed.
	failed, ok := 0, 0
	for ok < 20 {
		switch st := get(t, s.hc, r2.url+path); st {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			failed, ok = failed+1, 0
		default:
			t.Fatalf("r2 after its connections were terminated: %d: %s", st, r2.out.String())
		}
		if failed > len(before)-listeners {
			t.Fatalf("r2 failed %d requests after %d pool connections were terminated: %s", failed, len(before)-listeners, r2.out.String())
		}
	}
	t.Logf("r2: %d pool connections and its listener terminated; %d requests failed (503) before 20 in a row succeeded",
		len(before)-listeners, failed)
	everyReplica(t, s, procs, path, http.StatusOK, "after r2's connections were terminated")
	deadline := time.Now().Add(10 * time.Second)
	for {
		listening := false
		for pid, app := range backends(t, ctx, pool, r2.cmd.Process.Pid, port) {
			_, old := before[pid]
			listening = listening || (app == pgstore.ListenerApplicationName && !old)
		}
		if listening {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("r2's key-change listener did not connect again within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range procs {
		if st := get(t, &http.Client{Timeout: 5 * time.Second}, p.url+"/readyz"); st != http.StatusOK {
			t.Fatalf("%s /readyz after r2's connections were terminated = %d", p.id, st)
		}
	}
}
