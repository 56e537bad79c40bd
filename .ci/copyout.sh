#!/usr/bin/env bash
# Copy-out check of the scaffolds (run by .ci/run; usable on its own):
#   bash .ci/copyout.sh [examples/NAME ...]   (default: every examples/*/)
#
# Each example is copied into a fresh temporary directory OUTSIDE the
# repository and built as its own module, the way a user starts a service
# from it:
#
#   cp -r examples/NAME "$tmp/NAME" && cd "$tmp/NAME"
#   go mod init example.com/NAME
#   go mod edit -require github.com/hipaakit/hipaakit@v0.0.0 \
#               -replace github.com/hipaakit/hipaakit=<repository root>
#   go mod tidy && go build ./... && go vet ./... && go test ./...
#
# then its ci.sh, if it has one, runs in the copy. It fails, naming the
# file, when an example imports a hipaakit internal/ package or refers to a
# path outside its own folder ("../" in a Go string, or a go:embed pattern
# that leaves it); the build and tests in the copy then catch whatever the
# scan misses. A program that links package testing outside its tests fails
# too. Dependency versions come from the repository's go.mod (the
# replaced module's requirements) and its go.sum seeds the copy's, so on a
# warm module cache nothing is downloaded. Tests run once, without -race
# (.ci/run runs them with -race in the repository), with CI set so that
# PostgreSQL, S3 and Chromium tests fail instead of skipping.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$root"
export CI="${CI:-true}"
goflags="$(go env GOFLAGS)" # the environment's or go env -w's
export GOFLAGS="${goflags:+$goflags }-mod=mod"
module="$(go list -m)"

log() { printf '==> copyout: %s\n' "$*"; }
fail() { printf 'copyout: FAIL: %s\n' "$*" >&2; exit 1; }

if [ "$#" -eq 0 ]; then
  set -- examples/*/
fi

base="$(mktemp -d "${TMPDIR:-/tmp}/hipaakit-copyout.XXXXXX")"
case "$base/" in "$root"/*) fail "temporary directory $base is inside the repository; set TMPDIR elsewhere" ;; esac
trap 'rm -rf "$base"' EXIT

# scan DIR: refuse imports of the module's internal packages and paths that
# leave the example's folder, before building (a clear message beats a
# missing-file error deep in a test).
scan() {
  local dir="$1" bad=""
  bad="$(grep -rnE --include='*.go' "\"${module//./\\.}/internal(/|\")" "$dir" || true)"
  [ -z "$bad" ] || fail "$dir imports hipaakit internal packages, which no other module can import:
$bad"
  bad="$(grep -rnE --include='*.go' '"(\.\./|[^"]*/\.\./)|//go:embed .*\.\.' "$dir" || true)"
  [ -z "$bad" ] || fail "$dir refers to files outside its folder, which a copy does not have:
$bad"
}

for ex in "$@"; do
  ex="${ex%/}"
  [ -f "$ex/main.go" ] || continue
  name="$(basename "$ex")"
  log "$ex: scan"
  scan "$ex"

  dst="$base/$name"
  cp -r "$ex" "$dst"
  cp go.sum "$dst/go.sum"
  cd "$dst"
  log "$name: go mod init example.com/$name (outside the repository, in $dst)"
  go mod init "example.com/$name" 2>/dev/null || fail "$name: go mod init"
  go mod edit -require "$module@v0.0.0" -replace "$module=$root" || fail "$name: go mod edit"
  go mod tidy || fail "$name: go mod tidy in the copy (an import the module graph does not provide?)"
  log "$name: go build ./..."
  go build ./... || fail "$name does not build as a module of its own"
  # A program built from a scaffold must not link the test framework (a
  # test helper imported outside _test.go files would).
  if go list -deps ./... | grep -qx testing; then
    fail "$name links package testing outside its tests, imported by: $(go list -deps -f '{{.ImportPath}} {{join .Imports " "}} ' ./... | awk '/ testing / {print $1}' | tr '\n' ' ')"
  fi
  log "$name: go vet ./..."
  go vet ./... || fail "$name: go vet in the copy"
  log "$name: go test ./..."
  go test -count=1 -timeout 20m ./... || fail "$name: its tests fail in the copy"
  if [ -f ci.sh ]; then
    log "$name: ci.sh in the copy"
    bash ci.sh || fail "$name: its ci.sh fails in the copy"
  fi
  cd "$root"
  log "$name: passed"
done
log "passed"
