# Sourced by the bench scripts (ROOT set to the repository first): where bench/run.sh puts its
# binaries, the key server, how each benchmarked server is started (the same settings
# bench/run.sh uses), and a process's CPU time.

BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/tmp/ssoguard-bench-target}
KS_BIN="$BENCH_TARGET_DIR/keyserver/release"
PEER_BIN="$BENCH_TARGET_DIR/peer/release/peer-jwt-authorizer"
TASKS_API_BIN=${TASKS_API_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tasks-api}

# require_bench SCRIPT TOOL...: the tools are installed and bench/run.sh has built the binaries.
require_bench() {
  local script=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$script: $tool is required" >&2; exit 1; }
  done
  [ -x "$KS_BIN/keyserver" ] || { echo "run bench/run.sh first (no $KS_BIN/keyserver)" >&2; exit 1; }
}

# cpu_ticks PID: utime + stime of a process, all threads, in clock ticks.
cpu_ticks() {
  local stat rest
  stat=$(cat "/proc/$1/stat")
  rest=${stat##*) }
  read -ra f <<<"$rest"
  echo $((f[11] + f[12]))
}

# start_keyserver DIR TOKENS: the key server on 127.0.0.1:18000, minting TOKENS tokens per
# algorithm into DIR/tokens; sets KS_PID, TOK and ISSUER.
start_keyserver() {
  local dir=$1 count=$2
  TOK="$dir/tokens"
  rm -f "$TOK/ready"
  "$KS_BIN/keyserver" --addr 127.0.0.1:18000 --out "$TOK" --tokens "$count" --audience test-client \
    2>"$dir/keyserver.log" &
  KS_PID=$!
  for _ in $(seq 1 6000); do [ -f "$TOK/ready" ] && break; sleep 0.1; done
  [ -f "$TOK/ready" ] || { echo "key server not ready (see $dir/keyserver.log)" >&2; return 1; }
  ISSUER=$(cat "$TOK/issuer.txt")
}

# server_settings SERVER MODE ALG DIR: sets server_env (an array of VAR=value), server_bin,
# port, health, path and tokens (the token file wrk sends; empty for the HTTP floor).
server_settings() {
  local server=$1 mode=$2 alg=$3 dir=$4
  path=/api/me health=/health
  case $server in
    tasks-api)
      server_env=(AUTH_SERVER_URL=http://127.0.0.1:18000 SSO_CLIENT_ID=test-client
        DATABASE_URL="sqlite://$dir/tasks-api.db" HOST=127.0.0.1 PORT=18001)
      server_bin=$TASKS_API_BIN port=18001 ;;
    ssoguard-nocache | ssoguard-cache)
      local cache=on
      [ "$server" = ssoguard-nocache ] && cache=off
      server_env=(AUTH_SERVER_URL=http://127.0.0.1:18000 SSO_CLIENT_ID=test-client TOKEN_CACHE=$cache
        PORT=18003)
      server_bin=$KS_BIN/ssoguard-app port=18003 ;;
    jwt-authorizer | http-floor)
      server_env=(JWKS_URL="$ISSUER/jwks" ISSUER="$ISSUER" AUDIENCE=test-client PORT=18002)
      server_bin=$PEER_BIN port=18002 health=/noauth
      [ "$server" = http-floor ] && path=/noauth ;;
    *) echo "unknown server $server" >&2; return 2 ;;
  esac
  tokens=""
  if [ "$path" = /api/me ]; then
    tokens="$TOK/$(echo "$alg" | tr '[:upper:]' '[:lower:]')-$mode.txt"
  fi
}

# gateway_config FILE PORT [UPSTREAM]: an ssoguard-gateway config for the key server's issuer
# (audience test-client), listening on PORT, every path authenticated; reverse proxy to UPSTREAM
# when given, else forward-auth only.
gateway_config() {
  local file=$1 port=$2 upstream=${3:-}
  {
    echo "listen = \"127.0.0.1:$port\""
    [ -n "$upstream" ] && echo "upstream = \"$upstream\""
    printf '\n[[issuer]]\nname = "bench"\nissuer = "%s"\naudiences = ["test-client"]\n' "$ISSUER"
    printf '\n[[route]]\npath = "/"\n'
  } >"$file"
}

# wait_ready PORT PATH: until the server answers (up to 2 min: a server under valgrind starts slowly).
wait_ready() {
  for _ in $(seq 1 1200); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not answer $2" >&2
  return 1
}
