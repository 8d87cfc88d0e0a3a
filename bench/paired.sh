#!/usr/bin/env bash
# Paired load comparison: two servers share the server CPU at the same time, each driven by its
# own wrk on the client CPU. A slow phase of a shared VM hits both alike, so the ratio of their
# req/s is the inverse ratio of their CPU cost per request, repeatable to about ±1 % where
# back-to-back runs (bench/run.sh) move by ±15 % (docs/BENCHMARKS.md). Made for A/B
# comparisons of two builds or settings of one server. Between servers of very different cost per
# request it favours the cheaper one (measured: tasks-api 9.9 µs CPU per request beside
# jwt-authorizer, 11.4 µs alone; jwt-authorizer 42 µs beside it, 41 µs alone), so it does not
# replace bench/run.sh's ratios.
#
#   bench/paired.sh A B [MODE] [ALG]
#
# A, B: tasks-api | jwt-authorizer | http-floor | ssoguard-nocache (the same name twice is an
# A/A check, or an A/B of two builds with A_BIN / B_BIN);  MODE: repeated | distinct;  ALG: RS256 | EdDSA.
# Environment (defaults): ROUNDS=5 DURATION=10 WARMUP=2 CONNECTIONS=16 (per server) SERVER_CPU=0
# CLIENT_CPU=1 TOKENS=100000 (distinct tokens minted when it starts its own key server: more than
# every cache in the path, so "distinct" verifies a signature per request); A_BIN / B_BIN: another tasks-api binary for that side; A_ENV / B_ENV: extra
# VAR=value words for that side's server; KEYSERVER_TOK + KEYSERVER_ISSUER: use the key server
# already running on 127.0.0.1:18000 (bench/run.sh does); RESULTS=<file>: append the rounds and
# medians as one JSON line. Uses the binaries bench/run.sh built (run it once first).
# Prints each round and the median of B/A (req/s) and of A/B (CPU per request).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,20p' "$0"; exit 2; }
A=$1 B=$2 MODE=${3:-repeated} ALG=${4:-RS256}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
# shellcheck source=bench/servers.sh
. "$BENCH/servers.sh"
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-10} WARMUP=${WARMUP:-2} CONNECTIONS=${CONNECTIONS:-16}
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
require_bench paired.sh wrk taskset curl python3
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$OUT"' EXIT

if [ -n "${KEYSERVER_TOK:-}" ]; then
  TOK=$KEYSERVER_TOK ISSUER=$KEYSERVER_ISSUER
else
  start_keyserver "$OUT" "${TOKENS:-100000}"
  PIDS+=("$KS_PID")
  taskset -a -pc "$CLIENT_CPU" "$KS_PID" >/dev/null
fi

# start SIDE SERVER PORT BIN EXTRA_ENV: sets <side>_pid, <side>_url, <side>_tokens
start() {
  local side=$1 server=$2 p=$3 bin=$4 extra=$5
  server_settings "$server" "$MODE" "$ALG" "$OUT"
  [ "$server" = tasks-api ] && [ -n "$bin" ] && server_bin=$bin
  # shellcheck disable=SC2086 # extra is a list of VAR=value words
  env "${server_env[@]}" PORT="$p" DATABASE_URL="sqlite://$OUT/tasks-$side.db" RUST_LOG=warn $extra \
    taskset -c "$SERVER_CPU" "$server_bin" >"$OUT/server-$side.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_ready "$p" "$health" || { cat "$OUT/server-$side.log" >&2; exit 1; }
  printf -v "${side}_pid" %s "$pid"
  printf -v "${side}_url" %s "http://127.0.0.1:$p$path"
  printf -v "${side}_tokens" %s "$tokens"
}
start a "$A" 18011 "${A_BIN:-$TASKS_API_BIN}" "${A_ENV:-}"
start b "$B" 18012 "${B_BIN:-$TASKS_API_BIN}" "${B_ENV:-}"

drive() { # TOKENS URL SECONDS OUTFILE
  TOKENS_FILE=$1 taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$3s" --timeout 5s \
    -s "$BENCH/wrk/tokens.lua" "$2" >"$4"
}

echo "A = $A, B = $B; $MODE $ALG; $ROUNDS rounds of ${DURATION}s, both on CPU $SERVER_CPU at once"
: >"$OUT/rounds"
for r in $(seq 1 "$ROUNDS"); do
  drive "$a_tokens" "$a_url" "$WARMUP" /dev/null &
  wa=$!
  drive "$b_tokens" "$b_url" "$WARMUP" /dev/null &
  wb=$!
  wait "$wa" "$wb"
  a0=$(cpu_ticks "$a_pid") b0=$(cpu_ticks "$b_pid")
  drive "$a_tokens" "$a_url" "$DURATION" "$OUT/wrk-a.txt" &
  wa=$!
  drive "$b_tokens" "$b_url" "$DURATION" "$OUT/wrk-b.txt" &
  wb=$!
  wait "$wa" "$wb"
  a1=$(cpu_ticks "$a_pid") b1=$(cpu_ticks "$b_pid")
  python3 - "$OUT" "$r" $((a1 - a0)) $((b1 - b0)) "$(getconf CLK_TCK)" <<'EOF' | tee -a "$OUT/rounds"
import json, sys
out, r, ta, tb, clk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def rec(side):
    text = open(f"{out}/wrk-{side}.txt").read()
    return json.loads(text.split("WRK_JSON ", 1)[1].splitlines()[0])
a, b = rec("a"), rec("b")
for j in (a, b):
    if j["errors_status"]:
        sys.exit(f"round {r}: error responses: {j}")
ca = ta / clk * 1e6 / max(a["requests"], 1)
cb = tb / clk * 1e6 / max(b["requests"], 1)
print(f"r{r}  A {a['rps']:9.0f} req/s {ca:6.2f} us CPU/req  |  B {b['rps']:9.0f} req/s {cb:6.2f} us CPU/req"
      f"  |  B/A req/s {b['rps'] / a['rps']:.3f}  A/B CPU/req {ca / cb:.3f}")
EOF
done
python3 - "$OUT/rounds" "${RESULTS:-}" "$A" "$B" "$MODE" "$ALG" "$CONNECTIONS" <<'EOF'
import json, statistics, sys
rounds, results, a, b, mode, alg, conns = sys.argv[1:]
rows = [l.split("|")[2].split() for l in open(rounds) if l.startswith("r")]
rps = [float(r[2]) for r in rows]  # "B/A req/s <x>  A/B CPU/req <y>"
cpu = [float(r[5]) for r in rows]
print(f"median over {len(rows)} rounds: B/A req/s {statistics.median(rps):.3f} "
      f"(range {min(rps):.3f}-{max(rps):.3f}), A/B CPU/req {statistics.median(cpu):.3f}")
if results:
    rec = {"kind": "paired", "a": a, "b": b, "mode": mode, "alg": alg, "connections_each": int(conns),
           "ratio_rps": rps, "ratio_cpu": cpu, "median_ratio_rps": statistics.median(rps),
           "median_ratio_cpu": statistics.median(cpu)}
    open(results, "a").write(json.dumps(rec) + "\n")
EOF
