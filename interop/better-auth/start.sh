#!/usr/bin/env bash
# Start the Better Auth interop server.
#
#   bash interop/better-auth/start.sh            (from anywhere)
#   bash interop/better-auth/start.sh --install  (install only, then exit: what .ci/run does)
#   BA_SET=latest bash interop/better-auth/start.sh   (the newest better-auth, from latest/)
#
# Installs the pinned dependencies with `npm ci` when node_modules is missing
# or was installed from a different package-lock.json, then execs
# `node server.mjs`. All install output goes to stderr; stdout carries only the
# server's single `READY <origin>` line. Environment: see README.md (PORT,
# BA_DB, BA_ALG, BA_ROTATION_SECONDS, BA_GRACE_SECONDS, BA_SECRET,
# BA_CLIENT_ID, BA_CLIENT_SECRET, BA_RESOURCE, ...).
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "${BA_SET:-pinned}" in
  pinned) ;;
  # The newest set has its own package.json + package-lock.json; the server's own
  # files are copied beside its node_modules (ESM resolves packages from the file).
  latest) dir="$dir/latest" ;;
  *) echo "start.sh: BA_SET must be pinned or latest, got ${BA_SET}" >&2; exit 2 ;;
esac
cd "$dir"

command -v node >/dev/null || { echo "start.sh: node not found (Node.js 20+ needed)" >&2; exit 127; }

stamp="node_modules/.ssoguard-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"

installed() { [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d node_modules/better-auth ]]; }

if ! installed; then
  # Several test processes may start at once: only one installs.
  exec 9>"$dir/.install.lock"
  flock 9
  if ! installed; then
    echo "start.sh: npm ci (node_modules missing or stale; compiling better-sqlite3 takes ~1 min)" >&2
    t0=$(date +%s)
    if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
      echo "start.sh: npm ci failed in $dir (BA_SET=${BA_SET:-pinned}); npm's ERESOLVE text above names the clash" >&2
      exit 3
    fi
    echo "$want" > "$stamp"
    echo "start.sh: npm ci done in $(( $(date +%s) - t0 ))s: $(node -p 'const v = (p) => require(`./node_modules/${p}/package.json`).version; `better-auth ${v("better-auth")}, @better-auth/oauth-provider ${v("@better-auth/oauth-provider")}`')" >&2
  fi
  flock -u 9
  exec 9>&-
fi

if [[ "${BA_SET:-pinned}" == latest ]]; then
  for f in ../*.mjs; do
    # Copy only when changed, atomically: other test processes may be starting from it.
    cmp -s "$f" "$(basename "$f")" || { cp "$f" ".$(basename "$f").$$" && mv ".$(basename "$f").$$" "$(basename "$f")"; }
  done
fi

[[ "${1:-}" == "--install" ]] && exit 0

exec node server.mjs
