#!/usr/bin/env bash
# CI smoke test of the clinic as a real process (.ci/run runs it instead of
# "go run", since the clinic is a server that does not finish):
#   1. build it; start it on a free loopback port with a temporary data dir;
#   2. wait for /healthz over TLS; an unauthenticated API call gets 401;
#   3. SIGTERM: it must exit 0;
#   4. restart on the same data dir: the data is kept (the demo users are
#      not created again, so no password is printed), and it stops cleanly.
# Everything it starts is stopped, and its temporary files removed, on any
# exit.
set -euo pipefail
# It builds the package in its own folder, so it runs the same in the
# repository and in a copy of the folder in another module.
cd "$(dirname "$0")"

log() { printf '==> clinic ci: %s\n' "$*"; }
fail() { printf 'clinic ci: FAIL: %s\n' "$*" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/clinic-ci.XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

log "build"
go build -o "$work/clinic" .
# probe: GET url and require a status (the certificate is the clinic's own
# self-signed one, generated on first start for local use).
cat >"$work/probe.go" <<'EOF'
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	want, _ := strconv.Atoi(os.Args[2])
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // loopback, self-signed
	resp, err := c.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != want {
		fmt.Fprintf(os.Stderr, "GET %s: status %d, want %d: %s\n", os.Args[1], resp.StatusCode, want, body)
		os.Exit(1)
	}
}
EOF
go build -o "$work/probe" "$work/probe.go"

# start N: runs the clinic in the background (output in $work/out.N and
# $work/err.N) and sets url once it listens, on a port the kernel picks.
url=""
start() {
  # Create the output files first: the background job opens them only after
  # it forks, and the first read below must not race it.
  : >"$work/out.$1"
  : >"$work/err.$1"
  "$work/clinic" -addr 127.0.0.1:0 -data "$work/data" >"$work/out.$1" 2>"$work/err.$1" &
  pid=$!
  url=""
  for _ in $(seq 1 300); do
    url="$(sed -n 's/^clinic: listening on \(https:\/\/127\.0\.0\.1:[0-9]*\) .*/\1/p' "$work/out.$1")"
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/err.$1" >&2; fail "start $1: the clinic exited"; }
    sleep 0.1
  done
  [ -n "$url" ] || fail "start $1: not listening after 30 s"
  for _ in $(seq 1 50); do
    "$work/probe" "$url/healthz" 200 2>/dev/null && return 0
    sleep 0.1
  done
  "$work/probe" "$url/healthz" 200 || fail "start $1: /healthz does not answer 200 over TLS"
}

# stop N: SIGTERM, and the clinic must exit 0 within 15 s.
stop() {
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "stop $1: still running 15 s after SIGTERM"
  rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || { cat "$work/err.$1" >&2; fail "stop $1: exit code $rc after SIGTERM, want 0"; }
  grep -q '^clinic: stopped$' "$work/out.$1" || fail "stop $1: no clean shutdown message"
}

log "first start"
start 1
log "listening on $url"
"$work/probe" "$url/api/audit" 401 || fail "an unauthenticated API call was not refused with 401"
grep -q 'password' "$work/out.1" || fail "the first start printed no demo users"
stop 1

log "restart on the same data directory"
start 2
grep -q 'password' "$work/out.2" && fail "the restart created the demo users again (data lost?)"
"$work/probe" "$url/api/audit" 401 || fail "an unauthenticated API call was not refused with 401 after the restart"
stop 2
log "passed"
