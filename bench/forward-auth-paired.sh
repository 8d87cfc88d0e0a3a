#!/usr/bin/env bash
# Two gateway builds' forward-auth endpoint and tasks-api's /api/me, alternated round by round
# (the paired form of bench/gateway.sh's fa-rs256 and tasks-api rows): one repeated RS256 token,
# 32 connections, the server on $SERVER_CPU, wrk and the key server on $CLIENT_CPU.
#
# Usage: A_BIN=/tmp/gw-a B_BIN=/tmp/gw-b bash bench/forward-auth-paired.sh
#        (ROUNDS=4 SECONDS_PER_ROW=6 SERVER_CPU=1 CLIENT_CPU=0 OUT=...)
#        A_ENV / B_ENV: extra VAR=value words for that side's gateway, e.g. the same binary with
#        and without shared state: A_BIN=$BIN B_BIN=$BIN B_ENV=SSOGUARD_REDIS_URL=redis://127.0.0.1:6379
# Prints per round: A, B and tasks-api req/s, B/A, A/tasks-api, B/tasks-api.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
# shellcheck source=servers.sh
. "$BENCH/servers.sh"
: "${A_BIN:?A_BIN: a ssoguard-gateway binary}" "${B_BIN:?B_BIN: another ssoguard-gateway binary}"
ROUNDS=${ROUNDS:-4}
SECONDS_PER_ROW=${SECONDS_PER_ROW:-6}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${OUT:-$ROOT/bench/results/forward-auth-paired-$(date -u +%Y%m%dT%H%M%SZ)}
TASKS_API_BIN=${TASKS_API_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tasks-api}
mkdir -p "$OUT"
CARGO_TARGET_DIR="$BENCH_TARGET_DIR/keyserver" cargo build --release --quiet \
  --manifest-path "$BENCH/keyserver/Cargo.toml"
start_keyserver "$OUT" 10
trap 'kill "$KS_PID" 2>/dev/null || true' EXIT
taskset -a -pc "$CLIENT_CPU" "$KS_PID" >/dev/null
gateway_config "$OUT/gateway.toml" 18113

drive() { # wrk arguments...; prints req/s
  TOKENS_FILE=$TOK/rs256-repeated.txt taskset -c "$CLIENT_CPU" wrk -t1 -c32 -d"${SECONDS_PER_ROW}s" \
    -s "$BENCH/wrk/tokens.lua" "$@" | awk '/Requests\/sec/ {print $2}'
}
gateway() { # BINARY [VAR=value...]
  local binary=$1
  shift
  env GATEWAY_CONFIG="$OUT/gateway.toml" RUST_LOG=warn "$@" taskset -c "$SERVER_CPU" "$binary" \
    2>>"$OUT/gateway.log" &
  local pid=$!
  wait_ready 18113 /_ssoguard/health >/dev/null
  drive -H "X-Original-URI: /api/me" -H "X-Original-Method: GET" http://127.0.0.1:18113/_ssoguard/auth
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
tasks_api() {
  rm -f "$OUT"/tasks-api.db*
  server_settings tasks-api repeated RS256 "$OUT"
  env "${server_env[@]}" RUST_LOG=warn taskset -c "$SERVER_CPU" "$server_bin" >/dev/null \
    2>>"$OUT/tasks-api.log" &
  local pid=$!
  wait_ready "$port" "$health" >/dev/null
  drive "http://127.0.0.1:$port$path"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
for round in $(seq 1 "$ROUNDS"); do
  # shellcheck disable=SC2086 # the extra environment is words
  a=$(gateway "$A_BIN" ${A_ENV:-})
  # shellcheck disable=SC2086
  b=$(gateway "$B_BIN" ${B_ENV:-})
  t=$(tasks_api)
  echo "round $round A=$a B=$b tasks-api=$t B/A=$(ratio "$b" "$a") A/tasks-api=$(ratio "$a" "$t") B/tasks-api=$(ratio "$b" "$t")" |
    tee -a "$OUT/rounds.txt"
done
