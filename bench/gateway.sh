#!/usr/bin/env bash
# Gateway benchmark (issue 18), side by side in one run on one machine, with wrk:
#
#   seed        the seed's FastAPI app verifying RS256 itself with python-jose (seed_app.py)
#   gw-eddsa    the header-reading FastAPI app (app.py) behind ssoguard-gateway (reverse proxy), EdDSA
#   gw-rs256    the same, RS256
#   fa-eddsa    the gateway's forward-auth endpoint alone (/_ssoguard/auth), EdDSA
#   fa-rs256    the same, RS256
#   tasks-api   tasks-api's /api/me, RS256 (the library in a Rust service); like fa-*, one repeated token
#   direct-1c / gw-1c   latency at one connection: app.py called directly (identity headers set
#               by wrk) and through the gateway (RS256); their p50 difference is the proxy overhead
#
# Tokens: the key server's distinct-token files (TOKENS per algorithm, cycled by wrk). Every
# server runs alone while it is measured. Pinned (taskset): the measured server gets CPU
# $SERVER_CPU to itself, wrk and the key server run on $CLIENT_CPU. In the gw-* rows the FastAPI
# app keeps $SERVER_CPU and the gateway runs on $CLIENT_CPU beside wrk, so the app has the same
# one core with and without the gateway. uvicorn runs as FastAPI's docs deploy it
# (`uvicorn[standard]`: uvloop and httptools), one worker, in every row. At the end the gateway's
# peak RSS (VmHWM) is read. Output: one JSON line per row in $OUT/results.jsonl and a table.
#
# Usage: bash bench/gateway.sh      (DURATION=10 CONNS=32 TOKENS=100000 GATEWAY_PYTHON=... GW_BIN=... OUT=...
#                                    SERVER_CPU=1 CLIENT_CPU=0)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
# shellcheck source=servers.sh
. "$BENCH/servers.sh"

DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
TOKENS=${TOKENS:-100000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${OUT:-$ROOT/bench/results/gateway-$(date -u +%Y%m%dT%H%M%SZ)}
PY=${GATEWAY_PYTHON:-$HOME/.cache/ssoguard-venv/bin/python}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
GW_BIN=${GW_BIN:-$TARGET/release/ssoguard-gateway}
FASTAPI_DIR=$ROOT/crates/ssoguard-gateway/tests/fastapi
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
log() { echo "[gateway-bench] $*" >&2; }

command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
"$PY" -c "import fastapi, uvicorn, jose, httpx, uvloop, httptools" || {
  echo "need a python with $FASTAPI_DIR/requirements.txt (GATEWAY_PYTHON)" >&2
  exit 1
}

log "building (release): tasks-api, ssoguard-gateway, bench/keyserver"
(cd "$ROOT" && cargo build --release --quiet -p tasks-api -p ssoguard-gateway)
CARGO_TARGET_DIR="$BENCH_TARGET_DIR/keyserver" cargo build --release --quiet \
  --manifest-path "$BENCH/keyserver/Cargo.toml"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_keyserver "$OUT" "$TOKENS"
PIDS+=("$KS_PID")
taskset -a -pc "$CLIENT_CPU" "$KS_PID" >/dev/null
EDDSA=$TOK/eddsa-distinct.txt
RS256=$TOK/rs256-distinct.txt

# run NAME PORT PATH TOKENS_FILE [CONNECTIONS] [wrk -H args...]
run() {
  local name=$1 port=$2 path=$3 tokens=$4 conns=${5:-$CONNS}
  shift 5 || shift $#
  local line
  line=$(TOKENS_FILE=$tokens taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" --latency -s "$BENCH/wrk/tokens.lua" \
    "$@" "http://127.0.0.1:$port$path" | grep '^WRK_JSON ' | sed 's/^WRK_JSON //')
  echo "{\"name\":\"$name\",\"conns\":$conns,${line#\{}" >>"$RESULTS"
  log "$name: $line"
}

uvicorn_app() { # MODULE PORT [VAR=value...]
  local module=$1 port=$2
  shift 2
  (cd "$FASTAPI_DIR" && exec env "$@" taskset -c "$SERVER_CPU" "$PY" -m uvicorn "$module:app" \
    --host 127.0.0.1 --port "$port" --loop uvloop --http httptools --log-level warning) \
    2>>"$OUT/uvicorn.log" &
  PIDS+=($!)
}

log "seed app (python-jose RS256)"
uvicorn_app seed_app 18101 JWKS_URL="$ISSUER/jwks" SSO_CLIENT_ID=test-client
wait_ready 18101 /docs
run seed 18101 /api/me "$RS256"
kill "${PIDS[-1]}"

log "header-reading app behind the gateway (reverse proxy)"
uvicorn_app app 18102
wait_ready 18102 /api/public/ping
gateway_config "$OUT/gateway.toml" 18103 http://127.0.0.1:18102
GATEWAY_CONFIG=$OUT/gateway.toml RUST_LOG=warn taskset -c "$CLIENT_CPU" "$GW_BIN" 2>"$OUT/gateway.log" &
GW_PID=$!
PIDS+=("$GW_PID")
wait_ready 18103 /_ssoguard/health
run gw-eddsa 18103 /api/me "$EDDSA"
run gw-rs256 18103 /api/me "$RS256"
run direct-1c 18102 /api/me "" 1 -H "X-Auth-Request-User: bench" -H "X-Auth-Request-Roles: user"
run gw-1c 18103 /api/me "$RS256" 1
# The forward-auth rows: the gateway alone, on the server CPU (as tasks-api below).
kill "${PIDS[-2]}"
taskset -a -pc "$SERVER_CPU" "$GW_PID" >/dev/null
run fa-eddsa 18103 /_ssoguard/auth "$TOK/eddsa-repeated.txt" "$CONNS" -H "X-Original-URI: /api/me" -H "X-Original-Method: GET"
run fa-rs256 18103 /_ssoguard/auth "$TOK/rs256-repeated.txt" "$CONNS" -H "X-Original-URI: /api/me" -H "X-Original-Method: GET"
GW_RSS_KIB=$(awk '/VmHWM/ {print $2}' "/proc/$GW_PID/status")
echo "{\"name\":\"gateway-peak-rss\",\"kib\":$GW_RSS_KIB}" >>"$RESULTS"
kill "$GW_PID"

log "tasks-api /api/me"
server_settings tasks-api distinct RS256 "$OUT"
env "${server_env[@]}" taskset -c "$SERVER_CPU" "$server_bin" >/dev/null 2>"$OUT/tasks-api.log" &
PIDS+=($!)
wait_ready "$port" "$health"
run tasks-api "$port" /api/me "$TOK/rs256-repeated.txt"

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["name"]: r for r in rows}
print(f"{'row':<12} {'conns':>5} {'req/s':>10} {'p50 µs':>8} {'p99 µs':>8} {'errors':>6}")
for r in rows:
    if "rps" in r:
        errs = sum(v for k, v in r.items() if k.startswith("errors_"))
        print(f"{r['name']:<12} {r['conns']:>5} {r['rps']:>10.0f} {r['p50_us']:>8} {r['p99_us']:>8} {errs:>6}")
rss = by["gateway-peak-rss"]["kib"]
print(f"\ngoals:")
print(f"  gateway+FastAPI RS256 / seed      = {by['gw-rs256']['rps'] / by['seed']['rps']:.2f}  (goal >= 2)")
print(f"  gateway+FastAPI EdDSA / seed      = {by['gw-eddsa']['rps'] / by['seed']['rps']:.2f}  (goal >= 2)")
print(f"  forward-auth RS256 / tasks-api    = {by['fa-rs256']['rps'] / by['tasks-api']['rps']:.2f}  (goal >= 0.9)")
print(f"  proxy overhead p50 (1 conn)       = {by['gw-1c']['p50_us'] - by['direct-1c']['p50_us']} µs  (goal <= 150)")
print(f"  gateway peak RSS                  = {rss / 1024:.1f} MiB  (goal < 40)")
PY
