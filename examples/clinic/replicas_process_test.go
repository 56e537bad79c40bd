package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/signing"
)

// replicaProc is one clinic process.
type replicaProc struct {
	id   string
	cmd  *exec.Cmd
	url  string
	out  *lockedBuf
	args []string
	env  []string
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listening = regexp.MustCompile(`clinic: listening on (http://127\.0\.0\.1:[0-9]+) `)

// start runs the process and waits until it listens; it returns the exit
// error when the process ends first.
func (p *replicaProc) start(t *testing.T, bin string) error {
	p.out = &lockedBuf{}
	p.cmd = exec.Command(bin, p.args...)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		if m := listening.FindStringSubmatch(p.out.String()); m != nil {
			p.url = m[1]
			go func() { <-exited }()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("%s exited: %v: %s", p.id, err, p.out.String())
		case <-deadline:
			t.Fatalf("%s does not listen after 60 s: %s", p.id, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// postJSON posts body as JSON (with the CSRF token when set) and decodes
// the answer into out; it returns the status (0 when the request failed).
func postJSON(t *testing.T, hc *http.Client, u, csrf string, body, out any) int {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

func get(t *testing.T, hc *http.Client, u string) int {
	resp, err := hc.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestReplicaProcesses starts three clinic processes, built once, on one
// PostgreSQL schema (separate data directories, one master key, one signing
// key file, one backup directory, an instance ID each) and, under a
// bounded load: sessions work across replicas; every acknowledged write is
// present on every replica afterwards and has its audit event; the trail
// verifies while the load runs; a replica killed with SIGKILL is refused
// while its lease lives (its readiness is gone) and comes back once it
// expired, the others serving throughout.
func TestReplicaProcesses(t *testing.T) {
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "clinic")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the clinic: %v: %s", err, out)
	}
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
	plain := &http.Client{Timeout: 5 * time.Second}
	for _, p := range procs {
		if code := get(t, plain, p.url+"/readyz"); code != http.StatusOK {
			t.Fatalf("%s /readyz = %d", p.id, code)
		}
	}
	// The physician's password and TOTP secret, printed once by r1.
	m := regexp.MustCompile(`physician\s+user (\S+)\s+password (\S+)\s+(otpauth://\S+)`).FindStringSubmatch(procs[0].out.String())
	if m == nil {
		t.Fatalf("no demo physician in r1's output")
	}
	u, _ := url.Parse(m[3])
	name, password, secret := m[1], m[2], u.Query().Get("secret")

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Timeout: 10 * time.Second, Jar: jar}
	// The seed used the current step's code (each is accepted once); the
	// next step is within the accepted skew.
	code, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	var login struct {
		Status    string `json:"status"`
		CSRFToken string `json:"csrf_token"`
	}
	if st := postJSON(t, hc, procs[0].url+"/api/auth/login", "", map[string]string{"tenant_id": demoTenant, "name": name,
		"password": password, "totp_code": code}, &login); st != http.StatusOK || login.Status != "authenticated" {
		t.Fatalf("login on r1: %d %+v", st, login)
	}
	csrf := login.CSRFToken
	for _, p := range procs {
		if st := get(t, hc, p.url+"/api/auth/session"); st != http.StatusOK {
			t.Fatalf("r1's session on %s: %d", p.id, st)
		}
	}

	// Load: four clients create patients on r1 and r2 in turn (at most 40
	// each) while r3 is killed and restarted.
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for n := 0; n < 40; n++ { // bounded: each write is checked on every replica below
				select {
				case <-stop:
					return
				default:
				}
				p := procs[(c+n)%2] // r1 and r2; r3 is killed below
				var out struct{ ID string }
				st := postJSON(t, hc, p.url+"/api/patients", csrf, map[string]string{"mrn": fmt.Sprintf("MRN-%d-%d", c, n),
					"name": "Load Patient", "dob": "1970-01-02", "zip": "02139"}, &out)
				if st == http.StatusCreated {
					mu.Lock()
					acked = append(acked, out.ID)
					mu.Unlock()
				}
			}
		})
	}
	// The trail verifies while the replicas write (Verify reads one
	// snapshot).
	trail := pgaudit.NewStore(pool)
	if _, err := trail.Verify(ctx, audit.VerifyOptions{Keys: []ed25519.PublicKey{key.PublicKey()}}); err != nil {
		t.Errorf("the trail does not verify under load: %v", err)
	}

	// SIGKILL r3: its lease outlives it, so a restart is refused until the
	// lease expired (3 s); the others serve throughout.
	r3 := procs[2]
	r3.cmd.Process.Kill()
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
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged under load")
	}
	for _, id := range acked {
		for _, p := range procs {
			if st := get(t, hc, p.url+"/api/patients/"+id); st != http.StatusOK {
				t.Fatalf("acknowledged patient %s on %s: %d", id, p.id, st)
			}
		}
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
	if _, err := trail.Verify(ctx, audit.VerifyOptions{Keys: []ed25519.PublicKey{key.PublicKey()}}); err != nil {
		t.Fatalf("the trail does not verify after the load: %v", err)
	}
	t.Logf("%d acknowledged writes checked on 3 replicas", len(acked))

	// A shred through r1 answers 410 on all three within a second.
	shredded := acked[0]
	for _, p := range procs {
		if st := get(t, hc, p.url+"/api/patients/"+shredded); st != http.StatusOK {
			t.Fatalf("%s before the shred: %d", p.id, st)
		}
	}
	var admin struct{ name, password, secret string }
	am := regexp.MustCompile(`admin\s+user (\S+)\s+password (\S+)\s+(otpauth://\S+)`).FindStringSubmatch(procs[0].out.String())
	if am == nil {
		t.Fatal("no demo admin in r1's output")
	}
	au, _ := url.Parse(am[3])
	admin.name, admin.password, admin.secret = am[1], am[2], au.Query().Get("secret")
	ajar, _ := cookiejar.New(nil)
	ahc := &http.Client{Timeout: 10 * time.Second, Jar: ajar}
	acode, _ := totp.GenerateCode(admin.secret, time.Now().Add(30*time.Second))
	if st := postJSON(t, ahc, procs[0].url+"/api/auth/login", "", map[string]string{"tenant_id": demoTenant, "name": admin.name,
		"password": admin.password, "totp_code": acode}, &login); st != http.StatusOK || login.Status != "authenticated" {
		t.Fatalf("admin login on r1: %d %+v", st, login)
	}
	if st := postJSON(t, ahc, procs[0].url+"/api/patients/"+shredded+"/shred", login.CSRFToken,
		map[string]string{"reason": "patient request"}, nil); st != http.StatusOK {
		t.Fatalf("shred on r1: %d", st)
	}
	shredAt := time.Now()
	for _, p := range procs {
		for get(t, hc, p.url+"/api/patients/"+shredded) != http.StatusGone {
			if time.Since(shredAt) > time.Second {
				t.Fatalf("%s still serves the shredded patient a second after the shred", p.id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
