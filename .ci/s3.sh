# Sourced by .ci/run: starts an S3-compatible server (versitygw, posix
# backend) on loopback for the backup/s3target tests and exports
# HIPAAKIT_TEST_S3_{ENDPOINT,ACCESS_KEY,SECRET_KEY,REGION}. The server and
# its temporary directory are removed when the sourcing shell exits.
# Usable on its own too:  bash -c 'source .ci/s3.sh && go test ./backup/s3target/'

HK_VERSITYGW_VERSION="v1.8.0"

hk_s3_log() { printf '==> %s\n' "$*"; }

if ! command -v versitygw >/dev/null 2>&1; then
  hk_s3_log "installing versitygw ${HK_VERSITYGW_VERSION}"
  go install "github.com/versity/versitygw/cmd/versitygw@${HK_VERSITYGW_VERSION}"
  PATH="$PATH:$(go env GOPATH)/bin"
fi

HK_S3_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hipaakit-s3.XXXXXX")"
mkdir -p "$HK_S3_DIR/data" "$HK_S3_DIR/versions"

# First free port from 7070 on.
HK_S3_PORT=""
for p in $(seq 7070 7170); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then HK_S3_PORT=$p; break; fi
done
if [ -z "$HK_S3_PORT" ]; then echo "no free port for versitygw" >&2; exit 1; fi

HK_S3_ACCESS="hipaakit-ci"
HK_S3_SECRET="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"

hk_s3_log "starting versitygw on 127.0.0.1:${HK_S3_PORT}"
versitygw --access "$HK_S3_ACCESS" --secret "$HK_S3_SECRET" --port "127.0.0.1:${HK_S3_PORT}" \
  posix --versioning-dir "$HK_S3_DIR/versions" "$HK_S3_DIR/data" >"$HK_S3_DIR/versitygw.log" 2>&1 &
HK_S3_PID=$!

hk_s3_stop() {
  if [ -n "${HK_S3_PID:-}" ]; then
    kill "$HK_S3_PID" 2>/dev/null || true
    wait "$HK_S3_PID" 2>/dev/null || true
    HK_S3_PID=""
  fi
  rm -rf "${HK_S3_DIR:-/nonexistent}"
}
# Chain with any EXIT trap the sourcing script already set.
HK_S3_PREV_TRAP="$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")"
trap "hk_s3_stop; ${HK_S3_PREV_TRAP:-:}" EXIT

hk_s3_ready=""
for _ in $(seq 1 50); do
  if ! kill -0 "$HK_S3_PID" 2>/dev/null; then break; fi
  # Any HTTP answer (403 for an anonymous request) means it is serving.
  if code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HK_S3_PORT}/" 2>/dev/null) && [ "$code" != "000" ]; then
    hk_s3_ready=1; break
  fi
  sleep 0.2
done
if [ -z "$hk_s3_ready" ]; then
  echo "versitygw did not start:" >&2
  cat "$HK_S3_DIR/versitygw.log" >&2 || true
  exit 1
fi

export HIPAAKIT_TEST_S3_ENDPOINT="http://127.0.0.1:${HK_S3_PORT}"
export HIPAAKIT_TEST_S3_ACCESS_KEY="$HK_S3_ACCESS"
export HIPAAKIT_TEST_S3_SECRET_KEY="$HK_S3_SECRET"
export HIPAAKIT_TEST_S3_REGION="us-east-1"
hk_s3_log "S3 endpoint ${HIPAAKIT_TEST_S3_ENDPOINT}"
