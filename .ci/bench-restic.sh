#!/usr/bin/env bash
# Compare hipaakit's backup with restic 0.14 (Debian's package) on the same
# generated data: initial backup, incremental after a shifted 200 MiB dump,
# after one-byte edits in 20 files and after 16 MiB of new clinical text, a
# full verify (restic check --read-data) and a restore. Prints time, peak
# memory and repository size side by side. Not part of the test command.
#
# Usage: .ci/bench-restic.sh [work-dir]   (needs ~3 GiB free; BENCH_RANDOM,
# BENCH_NOTES and BENCH_DUMP_MIB scale the data set)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v restic >/dev/null; then
	if [ "$(id -u)" = 0 ]; then apt-get install -y restic >/dev/null; else sudo apt-get install -y restic >/dev/null; fi
fi
W=${1:-$(mktemp -d)}
mkdir -p "$W"
go build -o "$W/hipaakit" ./cmd/hipaakit
go build -o "$W/benchgen" ./.ci/benchgen
DATA=$W/data
rm -rf "$DATA" "$W/hk-repo" "$W/restic-repo" "$W/hk-data" "$W/out-"*
"$W/benchgen" -out "$DATA" -mode init -random "${BENCH_RANDOM:-200}" -notes "${BENCH_NOTES:-2000}" -dump "${BENCH_DUMP_MIB:-200}"
"$W/benchgen" -out "$W/hk-data" -mode key
export HIPAAKIT_DATA_DIR=$W/hk-data HIPAAKIT_BACKUP_REPO=$W/hk-repo USER=bench
export RESTIC_REPOSITORY=$W/restic-repo RESTIC_PASSWORD=bench-only RESTIC_CACHE_DIR=$W/restic-cache
restic init -q
sync

declare -A T M S
size() { du -sb "$1" | cut -f1; }
# measure TOOL STEP CMD...: time and peak RSS of one run.
measure() {
	local tool=$1 step=$2
	shift 2
	sync
	/usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
	read -r t m <"$W/time"
	T[$tool.$step]=$t
	M[$tool.$step]=$((m / 1024))
}
backup_both() {
	local step=$1
	measure hk "$step" "$W/hipaakit" backup create --source dir --path "$DATA"
	S[hk.$step]=$(size "$W/hk-repo")
	measure restic "$step" restic backup -q "$DATA"
	S[restic.$step]=$(size "$W/restic-repo")
}
backup_both initial
"$W/benchgen" -out "$DATA" -mode shift
backup_both shifted
"$W/benchgen" -out "$DATA" -mode edit -random "${BENCH_RANDOM:-200}"
backup_both edits
"$W/benchgen" -out "$DATA" -mode text
backup_both text
measure hk verify "$W/hipaakit" backup verify all
measure restic verify restic check --read-data
measure hk restore "$W/hipaakit" backup restore latest --to "$W/out-hk"
measure restic restore restic restore latest --target "$W/out-restic"

mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }
printf '\n%-22s %12s %12s %10s %10s %14s %14s\n' step "hipaakit s" "restic s" "hk MiB" "restic MiB" "hk repo MiB" "restic repo MiB"
prev_hk=0 prev_r=0
for step in initial shifted edits text verify restore; do
	hs="${S[hk.$step]:-}" rs="${S[restic.$step]:-}"
	printf '%-22s %12s %12s %10s %10s %14s %14s\n' "$step" "${T[hk.$step]}" "${T[restic.$step]}" "${M[hk.$step]}" "${M[restic.$step]}" \
		"${hs:+$(mib "$hs")}" "${rs:+$(mib "$rs")}"
	if [ -n "$hs" ]; then
		[ "$step" != initial ] && printf '%-22s %12s %12s %10s %10s %14s %14s\n' "  added" "" "" "" "" "$(mib $((hs - prev_hk)))" "$(mib $((rs - prev_r)))"
		prev_hk=$hs prev_r=$rs
	fi
done
