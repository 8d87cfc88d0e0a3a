#!/usr/bin/env bash
# Point latest/ at the newest published better-auth, @better-auth/oauth-provider and
# @better-auth/api-key and regenerate its package-lock.json (a maintainer's command: no test runs
# it, and scripts/check-upstream says when it is due). Where a plugin pins a peer exactly
# (better-call, @better-auth/utils, @better-fetch/fetch) to another version than better-auth's
# own dependency, npm refuses the set (ERESOLVE); an `overrides` entry then gives that plugin
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
api_key_peers="$(npm view "@better-auth/api-key@$api_key" peerDependencies --json)"

BA="$ba" PROVIDER="$provider" API_KEY="$api_key" BA_DEPS="$ba_deps" \
  PROVIDER_PEERS="$provider_peers" API_KEY_PEERS="$api_key_peers" node -e '
const fs = require("fs");
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
const deps = JSON.parse(process.env.BA_DEPS);
const plugins = {
  "@better-auth/oauth-provider": [process.env.PROVIDER, JSON.parse(process.env.PROVIDER_PEERS)],
  "@better-auth/api-key": [process.env.API_KEY, JSON.parse(process.env.API_KEY_PEERS)],
};
pkg.dependencies["better-auth"] = process.env.BA;
pkg.overrides = {};
for (const [plugin, [version, peers]] of Object.entries(plugins)) {
  pkg.dependencies[plugin] = version;
  const overrides = {};
  for (const [name, wanted] of Object.entries(peers)) {
    const have = deps[name];
    // Only exact pins clash; a range (^, ~, ||) is left to npm.
    if (have && /^\d[^ |]*$/.test(wanted) && wanted !== have) {
      overrides[name] = have.replace(/^[\^~]/, "");
      console.error(`clash: ${plugin} ${version} pins peer ${name} ${wanted}; better-auth ${process.env.BA} needs ${have}`);
    }
  }
  if (Object.keys(overrides).length) pkg.overrides[plugin] = overrides;
}
if (!Object.keys(pkg.overrides).length) delete pkg.overrides;
fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2) + "\n");
'
rm -f package-lock.json
npm install --package-lock-only --no-audit --no-fund --loglevel=error
echo "latest/: better-auth $ba, @better-auth/oauth-provider $provider," \
  "@better-auth/api-key $api_key; lockfile regenerated" >&2
