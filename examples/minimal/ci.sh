#!/usr/bin/env bash
# CI smoke test of the minimal service as a real process (.ci/run runs it
# instead of "go run", since a server does not finish): build it, start it
# on a free loopback port with a fresh data directory, require 401 for the
# PHI route without a session (with the security headers), stop it with
# SIGTERM (exit 0), then restart it on the same data: the users are kept
# (no password printed again). It builds the package in its own folder, so
# it runs the same in the repository and in a copy in another module.
set -euo pipefail
cd "$(dirname "$0")"
fail() { printf 'minimal ci: FAIL: %s\n' "$*" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/minimal-ci.XXXXXX")"
pid=""
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/minimal" .

run() { # run N: start, probe, stop
  : >"$work/out.$1"; : >"$work/err.$1" # opened before the job forks: the read below must not race it
  "$work/minimal" -addr 127.0.0.1:0 -data "$work/data" >"$work/out.$1" 2>"$work/err.$1" &
  pid=$!
  addr=""
  for _ in $(seq 1 300); do
    addr="$(sed -n 's/^minimal: listening on //p' "$work/out.$1")"
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/err.$1" >&2; fail "start $1: the service exited"; }
    sleep 0.1
  done
  [ -n "$addr" ] || fail "start $1: not listening after 30 s"
  curl -s -D "$work/headers" -o /dev/null "http://$addr/patients/patient-1001" || fail "start $1: no answer"
  grep -q '^HTTP/1.1 401' "$work/headers" || fail "start $1: the PHI route without a session did not answer 401: $(head -n1 "$work/headers")"
  grep -qi '^Content-Security-Policy:' "$work/headers" || fail "start $1: no Content-Security-Policy header"
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || { cat "$work/err.$1" >&2; fail "stop $1: exit code $rc after SIGTERM, want 0"; }
}

run 1
grep -q 'with password' "$work/out.1" || fail "the first start created no users"
run 2
grep -q 'with password' "$work/out.2" && fail "the restart created the users again (data lost?)"
echo "==> minimal ci: passed"
