#!/usr/bin/env bash
# User-space instructions per request of a whole server under HTTP load, counted by callgrind:
# repeatable where req/s on a shared VM is not (docs/BENCHMARKS.md).
#
#   bench/server-instructions.sh SERVER [MODE] [ALG]
#
# SERVER: tasks-api | http-floor | jwt-authorizer | ssoguard-nocache | ssoguard-cache;  MODE: repeated | distinct;  ALG: RS256 | EdDSA
#
# Uses the binaries bench/run.sh built (run it once first); TASKS_API_BIN=<path> measures another
# tasks-api build (an A/B of two commits). Starts the key server, the server under
# `valgrind --tool=callgrind --instr-atstart=no`, warms up with wrk for 5 s, then counts only
# while wrk runs $SECONDS_COUNTED s (default 10) and divides by wrk's request count. The kernel
# is not counted; valgrind's CPU has no SHA-NI, so SHA-256 shows its AVX instruction count.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,13p' "$0"; exit 2; }
SERVER=$1 MODE=${2:-repeated} ALG=${3:-RS256}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/servers.sh
. "$ROOT/bench/servers.sh"
SECONDS_COUNTED=${SECONDS_COUNTED:-10}
require_bench server-instructions.sh valgrind callgrind_control wrk curl python3
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT

start_keyserver "$OUT" 10000
PIDS+=("$KS_PID")
server_settings "$SERVER" "$MODE" "$ALG" "$OUT"
# valgrind started by this shell itself, so $! is its pid (callgrind_control finds it by pid).
export "${server_env[@]}"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/cg.out" "$server_bin" \
  >"$OUT/server.log" 2>&1 &
vpid=$!
PIDS+=("$vpid")
wait_ready "$port" "$health"
TOKENS_FILE=$tokens wrk -t1 -c32 -d5s -s "$ROOT/bench/wrk/tokens.lua" "http://127.0.0.1:$port$path" >/dev/null
callgrind_control -i on "$vpid" >/dev/null || { echo "callgrind_control cannot reach pid $vpid" >&2; exit 1; }
TOKENS_FILE=$tokens wrk -t1 -c32 -d"${SECONDS_COUNTED}s" -s "$ROOT/bench/wrk/tokens.lua" \
  "http://127.0.0.1:$port$path" >"$OUT/wrk.txt"
callgrind_control -i off "$vpid" >/dev/null 2>&1
callgrind_control -d "$vpid" >/dev/null 2>&1
for _ in $(seq 1 100); do [ -s "$OUT/cg.out.1" ] && break; sleep 0.1; done
sleep 0.5
requests=$(sed -n 's/^WRK_JSON //p' "$OUT/wrk.txt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
total=0 sha=0
for f in "$OUT"/cg.out*; do
  t=$(awk '/^totals:/ {print $2; exit}' "$f")
  total=$((total + ${t:-0}))
  s=$({ callgrind_annotate --inclusive=no "$f" 2>/dev/null || true; } |
    awk '/sha256_block_data_order/ {gsub(",", "", $1); s += $1} END {print s + 0}')
  sha=$((sha + s))
done
[ "$requests" -gt 0 ] || { echo "no requests counted" >&2; exit 1; }
awk -v s="$SERVER $MODE $ALG" -v r="$requests" -v t="$total" -v h="$sha" 'BEGIN {
  printf "%s: %d requests, %.0f instructions per request (SHA-256 %.0f, the rest %.0f)\n", s, r, t / r, h / r, (t - h) / r }'
