#!/usr/bin/env bash
# Soak test (issue 7): tasks-api under a bounded mixed load (GET /api/me, POST /api/tasks,
# GET /api/tasks) for many users, checking 0 failed valid requests and a flat RSS.
#
#   bench/soak.sh                       # 60 s, 2,000 users, SQLite
#   DURATION=300 USERS=5000 bench/soak.sh
#   SOAK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bench/soak.sh
#
# Not part of CI (it takes minutes); figures go to docs/benchmarks-log.md ("Soak").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-60}
USERS=${USERS:-2000}
CONNECTIONS=${CONNECTIONS:-32}
OUT=${OUT:-$ROOT/bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ)}
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/tmp/ssoguard-bench-target}
KEYSERVER_ADDR=127.0.0.1:18100
PORT=18101
mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

command -v wrk >/dev/null || { echo "soak: wrk is required (apt-get install wrk)" >&2; exit 2; }
echo "==> building release binaries" >&2
cargo build --release --quiet -p tasks-api --manifest-path "$ROOT/Cargo.toml"
CARGO_TARGET_DIR="$BENCH_TARGET_DIR/keyserver" cargo build --release --quiet \
  --manifest-path "$ROOT/bench/keyserver/Cargo.toml"
TASKS_API="${CARGO_TARGET_DIR:-$ROOT/target}/release/tasks-api"

echo "==> key server with $USERS user tokens" >&2
"$BENCH_TARGET_DIR/keyserver/release/keyserver" --addr "$KEYSERVER_ADDR" --out "$OUT/tokens" \
  --tokens "$USERS" --audience test-client --ttl-secs $((DURATION + 3600)) 2>"$OUT/keyserver.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -f "$OUT/tokens/ready" ] && break; sleep 0.2; done

DB=${SOAK_DATABASE_URL:-sqlite://$OUT/soak.db}
echo "==> tasks-api on :$PORT ($DB)" >&2
env AUTH_SERVER_URL="http://$KEYSERVER_ADDR" SSO_CLIENT_ID=test-client DATABASE_URL="$DB" \
  PORT=$PORT RUST_LOG=warn "$TASKS_API" 2>"$OUT/tasks-api.log" &
SERVER=$!
PIDS+=($SERVER)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.2; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
echo "==> ${DURATION}s of mixed load, $CONNECTIONS connections" >&2
( for _ in $(seq 1 $((DURATION / 5))); do sleep 5; echo "$(date +%s) $(rss)"; done ) >"$OUT/rss.txt" &
SAMPLER=$!
TOKENS_FILE="$OUT/tokens/eddsa-distinct.txt" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s \
  -s "$ROOT/bench/wrk/mixed.lua" "http://127.0.0.1:$PORT" >"$OUT/wrk.txt"
wait "$SAMPLER" || true
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")

RESULT=$(grep SOAK_JSON "$OUT/wrk.txt" | sed 's/^SOAK_JSON //')
FIRST=$(head -n 2 "$OUT/rss.txt" | awk '{s += $2} END {printf "%d", s / NR}')
LAST=$(tail -n 2 "$OUT/rss.txt" | awk '{s += $2} END {printf "%d", s / NR}')
{
  echo "soak: $RESULT"
  echo "rss KiB every 5 s: $(awk '{printf "%s ", $2}' "$OUT/rss.txt")"
  echo "rss first 10 s avg ${FIRST} KiB, last 10 s avg ${LAST} KiB, peak (VmHWM) ${HWM} KiB"
} | tee "$OUT/summary.txt"
NON2XX=$(echo "$RESULT" | sed 's/.*"non_2xx":\([0-9]*\).*/\1/')
ERRS=$(echo "$RESULT" | sed 's/.*"socket_errors":\([0-9]*\).*/\1/')
if [ "$NON2XX" != 0 ] || [ "$ERRS" != 0 ]; then echo "soak: FAILED requests" >&2; exit 1; fi
echo "soak: OK (0 failed valid requests)"
