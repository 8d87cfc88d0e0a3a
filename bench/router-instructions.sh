#!/usr/bin/env bash
# Instructions per request of every in-process router bench (crates/tasks-api/benches/router.rs),
# counted by callgrind: repeatable where wall-clock benches are not (a shared VM).
#
#   bench/router-instructions.sh [bench names...]     (default: all of them)
#
# Each bench runs N requests (N=${N:-5000}) inside `counted_requests`, after one warm-up request
# that fills the token cache; only that function is counted.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-5000}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
command -v valgrind >/dev/null || { echo "router-instructions.sh: valgrind is required" >&2; exit 1; }
(cd "$ROOT" && cargo bench -p tasks-api --bench router --no-run --quiet) >&2
BIN=$(ls -t "$TARGET"/release/deps/router-* | grep -v '\.d$' | head -1)
BENCHES=${*:-"floor_noauth tasks_api_me_cached per_route_middleware floor_with_bearer me_no_middleware me_trace me_cors me_cors_origin me_sensitive_headers all_routes"}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
printf '%-24s %14s\n' bench instructions/request
for name in $BENCHES; do
  ROUTER_BENCH_COUNT="$name:$N" valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.out" \
    --toggle-collect='*counted_requests*' "$BIN" --bench >/dev/null 2>"$OUT/$name.log"
  total=$(grep -E '^summary:|^totals:' "$OUT/$name.out" | head -1 | awk '{print $2}')
  awk -v name="$name" -v t="$total" -v n="$N" 'BEGIN { printf "%-24s %14.0f\n", name, t / n }'
done
