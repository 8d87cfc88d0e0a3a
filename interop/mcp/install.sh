#!/usr/bin/env bash
# Installs the MCP TypeScript SDK from package-lock.json (`npm ci`), only when node_modules is
# missing or was installed from another lockfile: the same cache rule, stamp and lock as
# interop/better-auth/start.sh. All output goes to stderr. .ci/run and scripts/test run it; the
# Rust test (crates/tasks-api/tests/mcp_clients.rs) runs it too before its first client.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v node >/dev/null || { echo "install.sh: node not found (Node.js 20+ needed)" >&2; exit 127; }

stamp="node_modules/.ssoguard-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
installed() { [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d node_modules/@modelcontextprotocol/sdk ]]; }

if ! installed; then
  # Several test processes may start at once: only one installs.
  exec 9>".install.lock"
  flock 9
  if ! installed; then
    echo "install.sh: npm ci (interop/mcp: node_modules missing or stale)" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$want" >"$stamp"
    echo "install.sh: @modelcontextprotocol/sdk $(node -p 'require("./node_modules/@modelcontextprotocol/sdk/package.json").version')" >&2
  fi
fi
