#!/usr/bin/env bash
# Profiles one server under the load of bench/run.sh and prints where its CPU time goes.
#
#   bench/profile.sh SERVER MODE ALG      e.g.  bench/profile.sh ssoguard-nocache distinct EdDSA
#
# SERVER: tasks-api | ssoguard-nocache | ssoguard-cache | jwt-authorizer | http-floor
# MODE:   distinct | repeated (ignored for http-floor);  ALG: EdDSA | RS256
#
# Uses the binaries bench/run.sh built (run it once first). Starts the key server, the server on
# CPU $SERVER_CPU and wrk on CPU $CLIENT_CPU (as run.sh does), warms up 2 s, then records
# `perf record --call-graph dwarf` for 5 s in the middle of an 8 s wrk run and prints
# bench/perf_breakdown.py's categories. perf.data and the script output stay in $OUT.
#
# Environment (defaults): SERVER_CPU=0 CLIENT_CPU=1 CONNECTIONS=32 TOKENS=100000
# OUT=bench/results/profile-<server>-<mode>-<alg> BENCH_TARGET_DIR=/tmp/ssoguard-bench-target

set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,12p' "$0"; exit 2; }
SERVER=$1 MODE=${2:-distinct} ALG=${3:-EdDSA}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CONNECTIONS=${CONNECTIONS:-32}
TOKENS=${TOKENS:-100000}
OUT=${OUT:-$BENCH/results/profile-$SERVER-$MODE-$ALG}
# shellcheck source=bench/servers.sh
. "$BENCH/servers.sh"
require_bench bench/profile.sh perf

mkdir -p "$OUT"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

start_keyserver "$OUT" "$TOKENS"
PIDS+=("$KS_PID")
taskset -a -pc "$CLIENT_CPU" "$KS_PID" >/dev/null
server_settings "$SERVER" "$MODE" "$ALG" "$OUT"
taskset -c "$SERVER_CPU" env "${server_env[@]}" "$server_bin" >"$OUT/server.log" 2>&1 &
pid=$!
PIDS+=("$pid")
wait_ready "$port" "$health"

url="http://127.0.0.1:$port$path"
TOKENS_FILE="$tokens" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s -s "$BENCH/wrk/tokens.lua" "$url" >/dev/null
TOKENS_FILE="$tokens" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d8s -s "$BENCH/wrk/tokens.lua" "$url" \
  >"$OUT/wrk.txt" &
wrk_pid=$!
sleep 1
perf record -F 499 --call-graph dwarf,16384 -p "$pid" -o "$OUT/perf.data" -- sleep 5 >/dev/null 2>&1
wait "$wrk_pid"
sed -n 's/^WRK_JSON //p' "$OUT/wrk.txt"
perf script -i "$OUT/perf.data" -F ip,sym 2>/dev/null >"$OUT/perf-script.txt"
echo "$SERVER $MODE $ALG:"
python3 "$BENCH/perf_breakdown.py" <"$OUT/perf-script.txt"
