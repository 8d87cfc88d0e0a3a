#!/usr/bin/env bash
# Load benchmark: ssoguard (tasks-api, and a minimal ssoguard app) against jwt-authorizer 0.15.
#
#   bench/run.sh
#
# Builds release binaries, starts the key server (bench/keyserver: a TestIssuer with an EdDSA and
# an RS256 key, which mints the token files), measures the crypto floor, then drives every server
# with wrk in the same run: server pinned to CPU $SERVER_CPU, wrk to CPU $CLIENT_CPU (one thread,
# $CONNECTIONS connections), a short warm-up and then $DURATION seconds per mode. Servers:
#
#   tasks-api          crates/tasks-api, GET /api/me, default configuration (token cache on);
#                      skipped with a message when it does not build (yet)
#   ssoguard-nocache   bench/keyserver's ssoguard-app, GET /api/me, token cache off
#                      (every request verifies a signature: the library's uncached path)
#   ssoguard-nobatch   (optional) the same with signature batching off (every check inline)
#   jwt-authorizer     bench/peer-jwt-authorizer, GET /api/me behind jwt-authorizer's layer
#   http-floor         the same peer app, GET /noauth (no verification)
#
# Modes: distinct (cycle through $TOKENS distinct tokens: by default 100,000, a working set larger
# than every cache in the path — the verified-token cache holds 10,000 — so every request verifies a
# signature) and repeated (one token: after the first request, verified-token cache hits), for EdDSA
# and RS256; every (server, mode, alg) run starts a fresh server process (a short warm-up, then the
# measured run). The whole sequence of servers runs $ROUNDS times, interleaved, and the summary
# reports the median of each figure over the rounds (a shared VM has slow phases of tens of
# seconds; one round can land a whole mode in one of them, docs/BENCHMARKS.md). Reported: req/s, p50/p99 latency, server CPU per request (utime+stime from
# /proc/<pid>/stat), peak RSS (VmHWM); the limit 1/(1/crypto + 1/http) per algorithm; ratios vs
# jwt-authorizer. With PAIRED_ROUNDS=n (default 0: off), then, for every mode and algorithm,
# tasks-api and jwt-authorizer side by side on the server CPU at once (n rounds of
# bench/paired.sh): a ratio the host's slow phases cannot skew, but one that favours the cheaper
# server (docs/BENCHMARKS.md), so the goals are checked on the back-to-back runs only.
# Results: $OUT/results.jsonl and $OUT/summary.md (also printed).
#
# Environment (defaults): ROUNDS=3 PAIRED_ROUNDS=0 DURATION=10 WARMUP=2 CONNECTIONS=32 TOKENS=100000
# SERVER_CPU=0 CLIENT_CPU=1 CRYPTO_SECONDS=3 OUT=bench/results/<UTC time> BENCH_TARGET_DIR=/tmp/ssoguard-bench-target
# SERVERS="tasks-api ssoguard-nocache jwt-authorizer http-floor"

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
# shellcheck source=bench/servers.sh
. "$BENCH/servers.sh" # cpu_ticks (the binary locations are set again below, after the builds)
ROUNDS=${ROUNDS:-3}
PAIRED_ROUNDS=${PAIRED_ROUNDS:-0}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
TOKENS=${TOKENS:-100000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CRYPTO_SECONDS=${CRYPTO_SECONDS:-3}
OUT=${OUT:-$BENCH/results/$(date -u +%Y%m%dT%H%M%SZ)}
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/tmp/ssoguard-bench-target}
SERVERS=${SERVERS:-"tasks-api ssoguard-nocache jwt-authorizer http-floor"}

KEYSERVER_ADDR=127.0.0.1:18000
PORT_TASKS_API=18001
PORT_PEER=18002
PORT_SSOGUARD_APP=18003
AUDIENCE=test-client

TOK="$OUT/tokens"
RESULTS="$OUT/results.jsonl"
PIDS=()

log() { printf '\n==> %s\n' "$*" >&2; }

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# --- tools -----------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "wrk is missing; installing it with apt-get"
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi
for tool in wrk taskset curl python3 cargo; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is required" >&2; exit 1; }
done
NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
  echo "bench/run.sh: needs 2 CPUs (server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU); found $NCPU" >&2
  exit 1
fi

mkdir -p "$OUT"
: >"$RESULTS"

# --- build -----------------------------------------------------------------------------------
log "building bench/keyserver (key server, crypto floor, ssoguard-app)"
CARGO_TARGET_DIR="$BENCH_TARGET_DIR/keyserver" cargo build --release --quiet \
  --manifest-path "$BENCH/keyserver/Cargo.toml"
KS_BIN="$BENCH_TARGET_DIR/keyserver/release"

log "building bench/peer-jwt-authorizer"
CARGO_TARGET_DIR="$BENCH_TARGET_DIR/peer" cargo build --release --quiet \
  --manifest-path "$BENCH/peer-jwt-authorizer/Cargo.toml"
PEER_BIN="$BENCH_TARGET_DIR/peer/release/peer-jwt-authorizer"

TASKS_API_BIN=""
TASKS_API_SKIP=""
if [[ " $SERVERS " == *" tasks-api "* ]]; then
  log "building tasks-api (main workspace, target/release)"
  if [ ! -f "$ROOT/crates/tasks-api/Cargo.toml" ]; then
    TASKS_API_SKIP="crates/tasks-api does not exist yet"
  elif ! (cd "$ROOT" && cargo build --release --quiet -p tasks-api) >"$OUT/tasks-api-build.log" 2>&1; then
    TASKS_API_SKIP="cargo build --release -p tasks-api failed (see $OUT/tasks-api-build.log)"
  else
    TASKS_API_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/tasks-api"
    [ -x "$TASKS_API_BIN" ] || { TASKS_API_SKIP="no binary at $TASKS_API_BIN"; TASKS_API_BIN=""; }
  fi
  if [ -n "$TASKS_API_SKIP" ]; then
    echo "SKIPPING tasks-api: $TASKS_API_SKIP" >&2
  fi
fi

# --- environment record ----------------------------------------------------------------------
python3 - "$RESULTS" <<EOF
import json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
rec = {"kind": "env", "cpu": cpu, "ncpu": os.cpu_count(), "mem_kb": int(mem), "kernel": platform.release(),
       "loadavg": open("/proc/loadavg").read().split()[:3],
       "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
       "wrk": "wrk -t1 -c$CONNECTIONS -d${DURATION}s (warm-up ${WARMUP}s), server CPU $SERVER_CPU, wrk CPU $CLIENT_CPU, $ROUNDS round(s), median reported",
       "tokens": $TOKENS, "tasks_api_skipped": "$TASKS_API_SKIP"}
open(sys.argv[1], "a").write(json.dumps(rec) + "\n")
EOF

# --- key server ------------------------------------------------------------------------------
log "starting the key server on $KEYSERVER_ADDR, minting $TOKENS tokens per algorithm"
"$KS_BIN/keyserver" --addr "$KEYSERVER_ADDR" --out "$TOK" --tokens "$TOKENS" --audience "$AUDIENCE" \
  2>"$OUT/keyserver.log" &
KS_PID=$!
PIDS+=("$KS_PID")
for _ in $(seq 1 3000); do
  [ -f "$TOK/ready" ] && break
  kill -0 "$KS_PID" 2>/dev/null || { cat "$OUT/keyserver.log" >&2; exit 1; }
  sleep 0.2
done
[ -f "$TOK/ready" ] || { echo "key server not ready after 600 s" >&2; exit 1; }
# Keep the (idle) key server off the server CPU.
taskset -a -pc "$CLIENT_CPU" "$KS_PID" >/dev/null
ISSUER=$(cat "$TOK/issuer.txt")
cat "$OUT/keyserver.log" >&2

# --- crypto floor ----------------------------------------------------------------------------
log "crypto floor on CPU $SERVER_CPU (${CRYPTO_SECONDS}s per measurement)"
taskset -c "$SERVER_CPU" "$KS_BIN/crypto-floor" --dir "$TOK" --seconds "$CRYPTO_SECONDS" | tee -a "$RESULTS"

# --- load runs -------------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)

wait_http() { # url pid
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# measure SERVER PID URL MODE ALG TOKENS_FILE
measure() {
  local server=$1 pid=$2 url=$3 mode=$4 alg=$5 tokens=$6
  if [ -n "$tokens" ]; then
    local code
    code=$(curl -s -o "$OUT/check-$server-$mode-$alg.json" -w '%{http_code}' \
      -H "Authorization: Bearer $(head -n1 "$tokens")" "$url")
    if [ "$code" != 200 ]; then
      echo "$server $mode $alg: sanity request answered HTTP $code:" >&2
      cat "$OUT/check-$server-$mode-$alg.json" >&2
      return 1
    fi
  fi
  TOKENS_FILE="$tokens" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 5s \
    -s "$BENCH/wrk/tokens.lua" "$url" >/dev/null
  local before after
  before=$(cpu_ticks "$pid")
  TOKENS_FILE="$tokens" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s \
    -s "$BENCH/wrk/tokens.lua" "$url" >"$OUT/wrk-$server-$mode-$alg-r$ROUND.txt"
  after=$(cpu_ticks "$pid")
  local hwm
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  local json
  json=$(sed -n 's/^WRK_JSON //p' "$OUT/wrk-$server-$mode-$alg-r$ROUND.txt")
  [ -n "$json" ] || { cat "$OUT/wrk-$server-$mode-$alg-r$ROUND.txt" >&2; return 1; }
  python3 - "$RESULTS" "$server" "$mode" "$alg" "$((after - before))" "$CLK_TCK" "$hwm" "$json" "$ROUND" <<'EOF'
import json, sys
path, server, mode, alg, ticks, clk, hwm, wrk, rnd = sys.argv[1:]
rec = {"kind": "load", "server": server, "mode": mode, "alg": alg, "round": int(rnd), **json.loads(wrk)}
rec["vmhwm_kb"] = int(hwm)
rec["cpu_us_per_req"] = round(int(ticks) / int(clk) * 1e6 / max(rec["requests"], 1), 2)
rec["cpu_busy"] = round(int(ticks) / int(clk) / (rec["duration_us"] / 1e6), 3)
open(path, "a").write(json.dumps(rec) + "\n")
print(f'r{rnd} {server:17} {mode:9} {alg:6} {rec["rps"]:>10.0f} req/s  p50 {rec["p50_us"]/1e3:7.2f} ms  '
      f'p99 {rec["p99_us"]/1e3:7.2f} ms  {rec["cpu_us_per_req"]:6.1f} us CPU/req  '
      f'RSS {rec["vmhwm_kb"] / 1024:5.1f} MiB  errors(status) {rec["errors_status"]}', file=sys.stderr)
EOF
}

# run_server NAME PORT HEALTH_PATH AUTH_PATH MODES -- COMMAND...
# Every (mode, alg) gets a fresh server process, so no run inherits another's caches.
run_server() {
  local name=$1 port=$2 health=$3 path=$4 modes=$5
  shift 6
  log "$name (CPU $SERVER_CPU) on 127.0.0.1:$port"
  local mode alg runs=()
  for mode in $modes; do
    if [ "$mode" = floor ]; then runs+=("floor -"); else runs+=("$mode EdDSA" "$mode RS256"); fi
  done
  local run
  for run in "${runs[@]}"; do
    read -r mode alg <<<"$run"
    taskset -c "$SERVER_CPU" "$@" >>"$OUT/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    if ! wait_http "http://127.0.0.1:$port$health" "$pid"; then
      echo "$name did not start; log:" >&2
      cat "$OUT/$name.log" >&2
      return 1
    fi
    local tokens=""
    if [ "$mode" != floor ]; then
      tokens="$TOK/$(echo "$alg" | tr '[:upper:]' '[:lower:]')-$mode.txt"
    fi
    measure "$name" "$pid" "http://127.0.0.1:$port$path" "$mode" "$alg" "$tokens" ||
      echo "{\"kind\": \"failed\", \"server\": \"$name\", \"mode\": \"$mode\", \"alg\": \"$alg\"}" >>"$RESULTS"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  done
}

start_failed() {
  log "$1 failed to start; skipping it"
  echo "{\"kind\": \"failed\", \"server\": \"$1\", \"mode\": \"start\"}" >>"$RESULTS"
}

# ssoguard_app NAME MODES [VAR=value ...]: bench/keyserver's ssoguard-app with these settings.
ssoguard_app() {
  local name=$1 modes=$2
  shift 2
  run_server "$name" "$PORT_SSOGUARD_APP" /health /api/me "$modes" -- \
    env AUTH_SERVER_URL="http://$KEYSERVER_ADDR" SSO_CLIENT_ID="$AUDIENCE" "$@" \
    PORT="$PORT_SSOGUARD_APP" "$KS_BIN/ssoguard-app" || start_failed "$name"
}

for ROUND in $(seq 1 "$ROUNDS"); do
log "round $ROUND of $ROUNDS"
for server in $SERVERS; do
  case $server in
    tasks-api)
      if [ -n "$TASKS_API_BIN" ]; then
        rm -f "$OUT/tasks-api.db"
        run_server tasks-api "$PORT_TASKS_API" /health /api/me "distinct repeated" -- \
          env AUTH_SERVER_URL="http://$KEYSERVER_ADDR" SSO_CLIENT_ID="$AUDIENCE" \
          DATABASE_URL="sqlite://$OUT/tasks-api.db" HOST=127.0.0.1 PORT="$PORT_TASKS_API" "$TASKS_API_BIN" ||
          start_failed "$server"
      else
        log "tasks-api skipped: $TASKS_API_SKIP"
        echo "{\"kind\": \"skipped\", \"server\": \"tasks-api\", \"reason\": \"$TASKS_API_SKIP\"}" >>"$RESULTS"
      fi
      ;;
    ssoguard-nocache) ssoguard_app "$server" distinct TOKEN_CACHE=off ;;
    ssoguard-nobatch) ssoguard_app "$server" distinct TOKEN_CACHE=off SIGNATURE_BATCHING=off ;;
    ssoguard-cache) ssoguard_app "$server" "distinct repeated" TOKEN_CACHE=on ;;
    jwt-authorizer)
      run_server jwt-authorizer "$PORT_PEER" /noauth /api/me "distinct repeated" -- \
        env JWKS_URL="$ISSUER/jwks" ISSUER="$ISSUER" AUDIENCE="$AUDIENCE" PORT="$PORT_PEER" "$PEER_BIN" ||
          start_failed "$server"
      ;;
    http-floor)
      run_server http-floor "$PORT_PEER" /noauth /noauth "floor" -- \
        env JWKS_URL="$ISSUER/jwks" ISSUER="$ISSUER" AUDIENCE="$AUDIENCE" PORT="$PORT_PEER" "$PEER_BIN" ||
          start_failed "$server"
      ;;
    *) echo "unknown server $server" >&2; exit 2 ;;
  esac
done
done

# --- paired ratios ---------------------------------------------------------------------------
# tasks-api and jwt-authorizer sharing the server CPU at the same time (bench/paired.sh):
# supplementary, see the header.
if [ "$PAIRED_ROUNDS" -gt 0 ] && [ -n "$TASKS_API_BIN" ] && [[ " $SERVERS " == *" jwt-authorizer "* ]]; then
  for mode in distinct repeated; do
    for alg in EdDSA RS256; do
      log "paired: jwt-authorizer and tasks-api, $mode $alg ($PAIRED_ROUNDS rounds)"
      ROUNDS=$PAIRED_ROUNDS DURATION=$DURATION WARMUP=$WARMUP SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU \
        KEYSERVER_TOK=$TOK KEYSERVER_ISSUER=$ISSUER RESULTS=$RESULTS TASKS_API_BIN=$TASKS_API_BIN \
        BENCH_TARGET_DIR=$BENCH_TARGET_DIR bash "$BENCH/paired.sh" jwt-authorizer tasks-api "$mode" "$alg" >&2 ||
        echo "{\"kind\": \"failed\", \"server\": \"paired\", \"mode\": \"$mode\", \"alg\": \"$alg\"}" >>"$RESULTS"
    done
  done
fi

# --- summary ---------------------------------------------------------------------------------
python3 "$BENCH/summarize.py" "$RESULTS" >"$OUT/summary.md"
cat "$OUT/summary.md"
echo
echo "results: $RESULTS"
