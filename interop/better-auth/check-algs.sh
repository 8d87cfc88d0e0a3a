#!/usr/bin/env bash
# For every signing algorithm: start a fresh server (PORT=0, temp DB), run
# flow.mjs against it, and print which algorithm/kid each JWT was verified with.
#
#   bash interop/better-auth/check-algs.sh [EdDSA ES256 ...]
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
algs=("$@")
[[ ${#algs[@]} -gt 0 ]] || algs=(EdDSA ES256 ES512 RS256 PS256)
tmp="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
status=0
for alg in "${algs[@]}"; do
  : > "$tmp/out"
  t0=$(date +%s%N)
  PORT=0 BA_ALG="$alg" bash "$dir/start.sh" > "$tmp/out" 2> "$tmp/err" &
  pid=$!
  for _ in $(seq 1 1200); do
    grep -q '^READY ' "$tmp/out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^READY ' "$tmp/out"; then
    echo "$alg: server did not start"; cat "$tmp/err"; status=1; pid=""; continue
  fi
  origin="$(awk '/^READY /{print $2; exit}' "$tmp/out")"
  echo "== $alg: READY after $(( ($(date +%s%N) - t0) / 1000000 )) ms at $origin"
  if FLOW_QUIET=1 node "$dir/flow.mjs" "$origin" > "$tmp/flow" 2>&1; then
    grep -E 'signature OK' "$tmp/flow" | sed 's/^/   /'
    echo "   flow: OK"
  else
    echo "   flow: FAILED"; tail -20 "$tmp/flow"; status=1
  fi
  kill -TERM "$pid"; wait "$pid" || true; pid=""
done
exit $status
