package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"
)

// Helpers of TestReplicaProcesses: clinic processes, their demo users and
// their database connections.

// replicaProc is one clinic process.
type replicaProc struct {
	id   string
	cmd  *exec.Cmd
	url  string
	out  *lockedBuf
	args []string
	env  []string
	done chan struct{} // closed once the process has exited
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
	done := make(chan struct{})
	p.done = done
	go func() { exited <- p.cmd.Wait(); close(done) }()
	deadline := time.After(60 * time.Second)
	for {
		if m := listening.FindStringSubmatch(p.out.String()); m != nil {
			p.url = m[1]
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

// kill ends the process with SIGKILL and returns once it has exited, so
// its data directory's lock is free (a restart right after a Kill alone
// can find the dying process still holding it).
func (p *replicaProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// send sends body as JSON (with the CSRF token when set) and decodes the
// answer into out; it returns the status (0 when the request failed).
func send(t *testing.T, hc *http.Client, method, u, csrf string, body, out any) int {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, u, bytes.NewReader(b))
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

func postJSON(t *testing.T, hc *http.Client, u, csrf string, body, out any) int {
	return send(t, hc, http.MethodPost, u, csrf, body, out)
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

// demoSession is a demo user signed in on one replica; its cookie works on
// every replica.
type demoSession struct {
	hc   *http.Client
	csrf string
}

// signIn signs the demo user of role in on p, with the credentials the
// seeding replica printed. The seed used the current step's code (each is
// accepted once per user); the next step is within the accepted skew.
func signIn(t *testing.T, seedOutput, role string, p *replicaProc) demoSession {
	t.Helper()
	return signInUser(t, seedOutput, role, "", p)
}

// signInUser is signIn as the demo user of role named user ("": the
// first of the role).
func signInUser(t *testing.T, seedOutput, role, user string, p *replicaProc) demoSession {
	t.Helper()
	name := `\S+`
	if user != "" {
		name = regexp.QuoteMeta(user)
	}
	m := regexp.MustCompile(`\s` + regexp.QuoteMeta(role) + `\s+user (` + name + `)\s+password (\S+)\s+(otpauth://\S+)`).FindStringSubmatch(seedOutput)
	if m == nil {
		t.Fatalf("no demo %s %s in the seeding replica's output", role, user)
	}
	u, _ := url.Parse(m[3])
	code, _ := totp.GenerateCode(u.Query().Get("secret"), time.Now().Add(30*time.Second))
	jar, _ := cookiejar.New(nil)
	s := demoSession{hc: &http.Client{Timeout: 10 * time.Second, Jar: jar}}
	var login struct {
		Status    string `json:"status"`
		CSRFToken string `json:"csrf_token"`
	}
	if st := postJSON(t, s.hc, p.url+"/api/auth/login", "", map[string]string{"tenant_id": demoTenant, "name": m[1],
		"password": m[2], "totp_code": code}, &login); st != http.StatusOK || login.Status != "authenticated" {
		t.Fatalf("%s login on %s: %d %+v", role, p.id, st, login)
	}
	s.csrf = login.CSRFToken
	return s
}

// everyReplica fails the test unless GET path answers want on every
// replica.
func everyReplica(t *testing.T, s demoSession, procs []*replicaProc, path string, want int, what string) {
	t.Helper()
	for _, p := range procs {
		if st := get(t, s.hc, p.url+path); st != want {
			t.Fatalf("%s: GET %s on %s = %d, want %d", what, path, p.id, st, want)
		}
	}
}

// backends returns the PostgreSQL backend PIDs of the connections process
// pid holds to the server on port pgPort (Linux: the process's sockets in
// /proc/PID/fd matched to their local ports in /proc/net/tcp, and those to
// pg_stat_activity.client_port), with each backend's application_name.
func backends(t testing.TB, ctx context.Context, pool *pgxpool.Pool, pid, pgPort int) map[int]string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("the sockets of process %d: %v", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			t.Fatalf("the TCP table: %v", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || !inodes[fs[9]] {
				continue
			}
			local, remote := strings.Split(fs[1], ":"), strings.Split(fs[2], ":")
			rport, _ := strconv.ParseInt(remote[len(remote)-1], 16, 32)
			lport, _ := strconv.ParseInt(local[len(local)-1], 16, 32)
			if int(rport) == pgPort {
				ports = append(ports, int(lport))
			}
		}
		f.Close()
	}
	out := map[int]string{}
	rows, err := pool.Query(ctx, `SELECT pid, application_name FROM pg_stat_activity WHERE client_port = ANY($1)`, ports)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var bpid int
		var app string
		if err := rows.Scan(&bpid, &app); err != nil {
			t.Fatal(err)
		}
		out[bpid] = app
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
