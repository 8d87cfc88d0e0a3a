#!/usr/bin/env bash
# Session cookies over HTTP (issue 19): tasks-api's GET /api/me with a Better Auth session cookie
# beside the same route with a JWT, on one tasks-api process (release build), in alternating
# rounds so a slow phase of the VM hits both alike.
#
#   bash bench/session.sh          (ROUNDS=5 DURATION=10 WARMUP=2 CONNECTIONS=32 SERVER_CPU=0 CLIENT_CPU=1)
#
# The JWT: one repeated EdDSA token from bench/keyserver (the verified-token cache answers). The
# session: one row in a SQLite file with Better Auth's `user` and `session` tables, looked up with
# BETTER_AUTH_SESSION_LOOKUP=database (the lookup cache answers after the first request; the
# cookie's HMAC is checked on every request). TASKS_API_BIN=<path> measures another build; the
# key server comes from bench/run.sh's build (run it once first).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/servers.sh
. "$ROOT/bench/servers.sh"
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-10} WARMUP=${WARMUP:-2} CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
require_bench session.sh wrk taskset curl python3
[ -x "$TASKS_API_BIN" ] || (cd "$ROOT" && cargo build --release --quiet -p tasks-api)
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$OUT"' EXIT

start_keyserver "$OUT" 1
PIDS+=("$KS_PID")
taskset -a -pc "$CLIENT_CPU" "$KS_PID" >/dev/null
SECRET=bench-better-auth-secret-0123456789abcdef
# Better Auth's tables (the admin plugin's columns included) with one user and one live session;
# prints the signed cookie value as Better Auth writes it.
COOKIE=$(python3 - "$OUT/auth.db" "$SECRET" <<'PY'
import base64, hashlib, hmac, sqlite3, sys, time, urllib.parse
db, secret = sys.argv[1], sys.argv[2]
now = int(time.time() * 1000)
c = sqlite3.connect(db)
c.executescript('''
CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT, emailVerified INTEGER,
  image TEXT, createdAt INTEGER, updatedAt INTEGER, role TEXT, banned INTEGER, banReason TEXT,
  banExpires INTEGER);
CREATE TABLE "session" (id TEXT PRIMARY KEY, expiresAt INTEGER, token TEXT UNIQUE,
  createdAt INTEGER, updatedAt INTEGER, ipAddress TEXT, userAgent TEXT, userId TEXT,
  impersonatedBy TEXT);''')
token = "benchSessionToken0123456789abcdef"
c.execute('INSERT INTO "user" VALUES (?,?,?,?,?,?,?,?,?,?,?)',
          ("user-bench", "Bench User", "bench@example.com", 1, None, now, now, "user", 0, None, None))
c.execute('INSERT INTO "session" VALUES (?,?,?,?,?,?,?,?,?)',
          ("session-bench", now + 86400000, token, now, now, None, None, "user-bench", None))
c.commit()
sig = base64.b64encode(hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()).decode()
print(urllib.parse.quote(token + "." + sig, safe=""))
PY
)
env AUTH_SERVER_URL=http://127.0.0.1:18000 SSO_CLIENT_ID=test-client HOST=127.0.0.1 PORT=18041 \
  DATABASE_URL="sqlite://$OUT/tasks.db" BETTER_AUTH_SECRET=$SECRET BETTER_AUTH_SESSION_LOOKUP=database \
  BETTER_AUTH_DATABASE_URL="sqlite://$OUT/auth.db" RUST_LOG=warn \
  taskset -c "$SERVER_CPU" "$TASKS_API_BIN" >"$OUT/server.log" 2>&1 &
PIDS+=($!)
wait_ready 18041 /health
URL=http://127.0.0.1:18041/api/me
curl -fsS -o /dev/null -H "Cookie: better-auth.session_token=$COOKIE" "$URL" ||
  { echo "the session cookie was refused:" >&2; cat "$OUT/server.log" >&2; exit 1; }
curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$TOK/eddsa-repeated.txt")" "$URL"

# drive NAME SECONDS OUTFILE: one wrk run of that credential.
drive() {
  local args=(-t1 -c"$CONNECTIONS" -d"$2s" --timeout 5s -s "$ROOT/bench/wrk/tokens.lua")
  if [ "$1" = jwt ]; then
    TOKENS_FILE=$TOK/eddsa-repeated.txt taskset -c "$CLIENT_CPU" wrk "${args[@]}" "$URL" >"$3"
  else
    taskset -c "$CLIENT_CPU" wrk "${args[@]}" -H "Cookie: better-auth.session_token=$COOKIE" "$URL" >"$3"
  fi
}
echo "tasks-api GET /api/me, $ROUNDS alternating rounds of ${DURATION}s per credential, $CONNECTIONS connections"
for r in $(seq 1 "$ROUNDS"); do
  for cred in jwt session; do
    drive "$cred" "$WARMUP" /dev/null
    drive "$cred" "$DURATION" "$OUT/$cred-$r.txt"
  done
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def rec(name, r):
    j = json.loads(open(f"{out}/{name}-{r}.txt").read().split("WRK_JSON ", 1)[1].splitlines()[0])
    if j["errors_status"]:
        sys.exit(f"{name} round {r}: error responses: {j}")
    return j
for name in ("jwt", "session"):
    rows = [rec(name, r) for r in range(1, rounds + 1)]
    rps = [r["rps"] for r in rows]
    rounds_text = ", ".join(f"{x:.0f}" for x in rps)
    p50 = statistics.median(r["p50_us"] for r in rows)
    p99 = statistics.median(r["p99_us"] for r in rows)
    print(f"{name:8} req/s median {statistics.median(rps):9.0f}  (rounds {rounds_text})  "
          f"p50 {p50:.0f} us  p99 {p99:.0f} us")
ratios = [rec("session", r)["rps"] / rec("jwt", r)["rps"] for r in range(1, rounds + 1)]
print(f"session / jwt req/s per round: {', '.join(f'{x:.3f}' for x in ratios)}; median {statistics.median(ratios):.3f}")
PY
