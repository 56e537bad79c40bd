package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runResult is what one run of the program printed and returned.
type runResult struct {
	code           int
	stdout, stderr string
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// runOnce runs the program to its end: it must fail to start.
func runOnce(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ready := make(chan string, 1)
	code := run(ctx, args, envFunc(env), &out, &errOut, ready)
	select {
	case url := <-ready:
		t.Fatalf("the clinic started on %s; want a refusal", url)
	default:
	}
	return runResult{code, out.String(), errOut.String()}
}

// running is a clinic started by run in the background.
type running struct {
	url         string
	stop        func() runResult
	out, errOut *syncBuffer
}

// runServe starts the program and returns once it serves.
func runServe(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, envFunc(env), out, errOut, ready) }()
	r := &running{out: out, errOut: errOut}
	var once sync.Once
	var res runResult
	r.stop = func() runResult {
		once.Do(func() {
			cancel()
			res = runResult{<-done, out.String(), errOut.String()}
		})
		return res
	}
	t.Cleanup(func() { r.stop() })
	select {
	case r.url = <-ready:
		return r
	case code := <-done:
		t.Fatalf("the clinic did not start: exit %d: %s", code, errOut.String())
	case <-time.After(60 * time.Second):
		t.Fatal("the clinic did not start within a minute")
	}
	return nil
}

// assertOneLine checks a refusal: the exit code, a single line on stderr
// naming the problem, and no stack trace.
func assertOneLine(t *testing.T, r runResult, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not say %q", r.stderr, want)
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("stderr is not one line: %q", r.stderr)
	}
	for _, trace := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(r.stderr, trace) {
			t.Errorf("stderr holds a stack trace (%q): %q", trace, r.stderr)
		}
	}
}

func baseArgs(dir string) []string { return []string{"-addr", "127.0.0.1:0", "-data", dir} }

func TestBadFlagsExitTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"unknown flag":      {[]string{"-nope"}, nil, "flag provided but not defined: -nope"},
		"bad duration":      {[]string{"-idle-timeout", "soon"}, nil, `invalid value "soon" for flag -idle-timeout`},
		"idle over life":    {[]string{"-idle-timeout", "13h"}, nil, "-idle-timeout <= -session-lifetime"},
		"plain HTTP remote": {[]string{"-no-tls", "-addr", "0.0.0.0:8080"}, nil, "allowed only on a loopback address"},
		"stray argument":    {[]string{"serve"}, nil, `unexpected argument "serve"`},
		"cert without key":  {[]string{"-tls-cert", "c.pem"}, nil, "-tls-cert and -tls-key go together"},
		"bad database URL": {nil, map[string]string{"DATABASE_URL": "postgres://u:CANARY-PW@[::1/db"},
			"-database-url (DATABASE_URL) is not a valid PostgreSQL URL"},
		"KMS endpoint alone": {[]string{"-kms-endpoint", "http://127.0.0.1:1"}, nil, "-kms-endpoint needs -kms-key-id"},
		"S3 endpoint alone":  {[]string{"-s3-endpoint", "http://127.0.0.1:1"}, nil, "-s3-endpoint needs -s3-bucket"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runOnce(t, tc.env, append(baseArgs(dir), tc.args...)...)
			assertOneLine(t, r, 2, tc.want)
			if strings.Contains(r.stderr, "CANARY-PW") {
				t.Fatal("the database password was echoed")
			}
		})
	}
	if r := runOnce(t, nil, "-h"); r.code != 0 || !strings.Contains(r.stderr, "-database-url") {
		t.Fatalf("-h: exit %d, %q", r.code, r.stderr)
	}
}

func TestSecondInstanceOnDataDirRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := runServe(t, nil, baseArgs(dir)...)
	r := runOnce(t, nil, baseArgs(dir)...)
	assertOneLine(t, r, 1, hipaakit.ErrDataDirLocked.Error())
	if res := first.stop(); res.code != 0 {
		t.Fatalf("the first instance exited %d: %s", res.code, res.stderr)
	}
}

func TestWrongMasterKeyRefused(t *testing.T) {
	t.Parallel()
	newKey := func() string {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			t.Fatal(err)
		}
		return localkek.Encode(k)
	}
	dir := t.TempDir()
	right, wrong := newKey(), newKey()
	if res := runServe(t, map[string]string{"HIPAAKIT_MASTER_KEY": right}, baseArgs(dir)...).stop(); res.code != 0 {
		t.Fatalf("first start: exit %d: %s", res.code, res.stderr)
	}
	r := runOnce(t, map[string]string{"HIPAAKIT_MASTER_KEY": wrong}, baseArgs(dir)...)
	assertOneLine(t, r, 1, "is not the one that wrapped the stored keys")
	if strings.Contains(r.stdout+r.stderr, wrong) || strings.Contains(r.stdout+r.stderr, right) {
		t.Fatal("a master key was printed")
	}
	r = runOnce(t, map[string]string{"HIPAAKIT_MASTER_KEY": "CANARY-not-a-key"}, baseArgs(dir)...)
	assertOneLine(t, r, 1, "invalid master key")
	if strings.Contains(r.stderr, "CANARY") {
		t.Fatal("the malformed master key was echoed")
	}
	if res := runServe(t, map[string]string{"HIPAAKIT_MASTER_KEY": right}, baseArgs(dir)...).stop(); res.code != 0 {
		t.Fatalf("restart with the right key: exit %d: %s", res.code, res.stderr)
	}
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	url := "postgres://clinic:CANARY-PW@127.0.0.1:" + strconv.Itoa(port) + "/clinic?sslmode=disable"
	start := time.Now()
	r := runOnce(t, map[string]string{"DATABASE_URL": url}, baseArgs(t.TempDir())...)
	assertOneLine(t, r, 1, "hipaakit: cannot reach PostgreSQL at 127.0.0.1:"+strconv.Itoa(port))
	if strings.Contains(r.stderr, "CANARY-PW") {
		t.Fatal("the database password was printed")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v to give up", d)
	}
}

// TestRestartKeepsData: the first start prints the demo users' passwords
// once; a restart on the same data directory keeps them and prints none.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := runServe(t, nil, baseArgs(dir)...).stop()
	if first.code != 0 || !strings.Contains(first.stdout, "password") || !strings.Contains(first.stdout, "otpauth://") {
		t.Fatalf("first start: exit %d, stdout %q", first.code, first.stdout)
	}
	second := runServe(t, nil, baseArgs(dir)...).stop()
	if second.code != 0 || strings.Contains(second.stdout, "password") || !strings.Contains(second.stdout, "clinic: stopped") {
		t.Fatalf("restart: exit %d, stdout %q", second.code, second.stdout)
	}
}

// TestDatabaseSchemaMissing: a search_path naming no schema is refused at
// start with one line, before anything is created.
func TestDatabaseSchemaMissing(t *testing.T) {
	t.Parallel()
	hipaakittest.Postgres(t) // skips without a server (fails under CI)
	url := withSearchPath(t, hipaakittest.PostgresURL(), "hk_clinic_missing_schema")
	r := runOnce(t, map[string]string{"DATABASE_URL": url}, baseArgs(t.TempDir())...)
	assertOneLine(t, r, 1, "the search_path names no existing schema")
}

// TestMissingMasterKeyFile: a data directory whose master key file (beside
// it) is gone is refused with a message that says so, and no new key is
// left behind.
func TestMissingMasterKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if res := runServe(t, nil, baseArgs(dir)...).stop(); res.code != 0 {
		t.Fatalf("first start: exit %d: %s", res.code, res.stderr)
	}
	kek := hipaakit.DefaultKeyFile(dir)
	if err := os.Remove(kek); err != nil {
		t.Fatal(err)
	}
	r := runOnce(t, nil, baseArgs(dir)...)
	assertOneLine(t, r, 1, "there is no master key file "+filepath.Base(kek))
	if _, err := os.Stat(kek); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused start left a new master key behind: %v", err)
	}
}
