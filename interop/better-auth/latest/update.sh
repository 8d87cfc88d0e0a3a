#!/usr/bin/env bash
# Point latest/ at the newest published better-auth and @better-auth/oauth-provider and
# regenerate its package-lock.json. Where the provider pins a peer exactly (better-call,
# @better-auth/utils, @better-fetch/fetch) to another version than better-auth's own
# dependency, npm refuses the set (ERESOLVE); an `overrides` entry then gives the provider
# better-auth's version, and the clash is printed. Run the interop suites afterwards:
#
#   bash interop/better-auth/latest/update.sh
#   SSOGUARD_INTEROP_SETUP=latest cargo test -p tasks-api --test interop --test interop_matrix
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

ba="$(npm view better-auth version)"
provider="$(npm view @better-auth/oauth-provider version)"
api_key="$(npm view @better-auth/api-key version)"
ba_deps="$(npm view "better-auth@$ba" dependencies --json)"
provider_peers="$(npm view "@better-auth/oauth-provider@$provider" peerDependencies --json)"

BA="$ba" PROVIDER="$provider" API_KEY="$api_key" BA_DEPS="$ba_deps" PEERS="$provider_peers" node -e '
const fs = require("fs");
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
const deps = JSON.parse(process.env.BA_DEPS);
const peers = JSON.parse(process.env.PEERS);
pkg.dependencies["better-auth"] = process.env.BA;
pkg.dependencies["@better-auth/oauth-provider"] = process.env.PROVIDER;
pkg.dependencies["@better-auth/api-key"] = process.env.API_KEY;
const overrides = {};
for (const [name, wanted] of Object.entries(peers)) {
  const have = deps[name];
  if (have && /^\d/.test(wanted) && wanted !== have) {
    overrides[name] = have.replace(/^[\^~]/, "");
    console.error(`clash: @better-auth/oauth-provider ${process.env.PROVIDER} pins peer ${name} ${wanted}; better-auth ${process.env.BA} needs ${have}`);
  }
}
// @better-auth/api-key (BA_API_KEYS=1) is released with the provider and pins the same peers.
if (Object.keys(overrides).length) pkg.overrides = { "@better-auth/oauth-provider": overrides, "@better-auth/api-key": overrides };
else delete pkg.overrides;
fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2) + "\n");
'
rm -f package-lock.json
npm install --package-lock-only --no-audit --no-fund --loglevel=error
echo "latest/: better-auth $ba, @better-auth/oauth-provider $provider; lockfile regenerated" >&2
