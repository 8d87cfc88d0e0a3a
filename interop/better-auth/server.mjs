// A real Better Auth server (better-auth 1.7.5 + @better-auth/oauth-provider 1.7.5,
// or the newest set from latest/) for ssoguard's integration tests. Configuration is by environment variables;
// see README.md in this folder.
//
// Prints exactly one line `READY <origin>` on stdout once it accepts requests
// (migrations done, OAuth client and admin user seeded). Everything else goes
// to stderr.
import http from "node:http";
import net from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { admin, bearer, jwt } from "better-auth/plugins";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";
import { oauthProvider, oauthProviderOpenIdConfigMetadata } from "@better-auth/oauth-provider";

const env = process.env;
// Which better-auth this server runs (the pinned set here, or latest/): logged at start.
const BETTER_AUTH_VERSION = JSON.parse(
  fs.readFileSync(new URL("./node_modules/better-auth/package.json", import.meta.url), "utf8"),
).version;
const log = (...a) => console.error("[better-auth-server]", ...a);
// stdout is reserved for the single READY line: a harness that reads that line
// and then stops reading must never block this process on a full pipe.
console.log = console.info = console.debug = (...a) => console.error(...a);

const PORT = Number(env.PORT ?? 3001); // 0 = pick a free port
const HOST = env.BA_HOST || "127.0.0.1";
const ALGS = ["EdDSA", "ES256", "ES512", "RS256", "PS256"];
const ALG = env.BA_ALG || "EdDSA";
if (!ALGS.includes(ALG)) {
  log(`BA_ALG must be one of ${ALGS.join(", ")}, got ${ALG}`);
  process.exit(2);
}
const ROTATION = env.BA_ROTATION_SECONDS ? Number(env.BA_ROTATION_SECONDS) : undefined;
const GRACE = env.BA_GRACE_SECONDS ? Number(env.BA_GRACE_SECONDS) : undefined;
const SECRET = env.BA_SECRET || "ssoguard-dev-secret-0123456789abcdef0123456789";
const CLIENT_ID = env.BA_CLIENT_ID || "rust-backend";
const CLIENT_SECRET = env.BA_CLIENT_SECRET || "rust-backend-secret";
const RESOURCE = env.BA_RESOURCE || "http://localhost:8000";
const REDIRECT_URI = env.BA_REDIRECT_URI || "http://localhost:8976/callback";
const ADMIN_EMAIL = "admin@example.com";
const ADMIN_PASSWORD = "admin-password-123";
// Scopes a client may get through client_credentials (user-delegated scopes
// such as openid/profile/email/offline_access are refused for that grant).
const M2M_SCOPES = ["api:read", "api:write"];

// ---- MCP (README "MCP clients") ------------------------------------------------
// BA_MCP_RESOURCE=<PUBLIC_URL>/mcp: the authorization server an MCP client finds through
// tasks-api's protected resource metadata. It adds that second resource (RFC 8707: a token
// requested for it is a JWT whose `aud` holds it), the scopes `tasks:read` and `tasks:write`,
// open dynamic client registration (RFC 7591) for public clients, and each registered client
// linked to the MCP resource. The seeded client gets the MCP resource and scopes too (the tests'
// refused-token cases). Unset: none of this, so the other tests see the server they always did.
// (The RFC 8414 metadata at the path-inserted root URL, where the MCP SDKs look first, needs
// nothing: the oauth-provider plugin answers /.well-known/oauth-authorization-server/api/auth
// itself whenever the request reaches Better Auth's handler, as every request does here.)
const MCP_RESOURCE = env.BA_MCP_RESOURCE;
const MCP_SCOPES = MCP_RESOURCE ? ["tasks:read", "tasks:write"] : [];
const USER_SCOPES = ["openid", "profile", "email", "offline_access"];
const mcpOptions = MCP_RESOURCE
  ? {
      allowDynamicClientRegistration: true,
      allowUnauthenticatedClientRegistration: true,
      // Registered clients may ask for the user scopes and the MCP ones, never api:* (M2M).
      clientRegistrationDefaultScopes: [...USER_SCOPES, ...MCP_SCOPES],
      clientRegistrationDefaultResources: [MCP_RESOURCE],
    }
  : {};

// ---- deployment layout (the interop matrix; README "Layouts") ----------------
// BA_BASE_PATH: Better Auth's basePath (its issuer is <origin><basePath>).
const BASE_PATH = (env.BA_BASE_PATH || "/api/auth").replace(/\/+$/, "");
// BA_ROOT_DISCOVERY=1: also serve the discovery document at the root, as Better
// Auth's docs recommend (oauthProviderOpenIdConfigMetadata at
// /.well-known/openid-configuration; it still names <origin><basePath>).
const ROOT_DISCOVERY = env.BA_ROOT_DISCOVERY === "1";
// BA_DATABASE_URL: Postgres (a `pg` pool) instead of the SQLite file BA_DB.
const DATABASE_URL = env.BA_DATABASE_URL;

// ---- API keys (README "API keys") --------------------------------------------
// BA_API_KEYS=1: the @better-auth/api-key plugin, with `enableSessionForAPIKeys` so that
// `GET /get-session` with `x-api-key` answers the key owner's session (the only way a
// backend can check a key over HTTP: the plugin's /api-key/verify is server-only).
// Keys created over HTTP get BA_API_KEY_PERMISSIONS (JSON, default tasks read+write) and the
// rate limit BA_API_KEY_RATE_MAX requests per BA_API_KEY_RATE_WINDOW_MS (default 1000 per
// minute); expiresIn may be as short as 1 s (tests of expired keys).
const apiKeyPlugin = async () => {
  if (env.BA_API_KEYS !== "1") return [];
  const { apiKey } = await import("@better-auth/api-key");
  return [
    apiKey({
      enableSessionForAPIKeys: true,
      permissions: { defaultPermissions: JSON.parse(env.BA_API_KEY_PERMISSIONS || '{"tasks":["read","write"]}') },
      rateLimit: {
        enabled: true,
        maxRequests: Number(env.BA_API_KEY_RATE_MAX || 1000),
        timeWindow: Number(env.BA_API_KEY_RATE_WINDOW_MS || 60000),
      },
      keyExpiration: { minExpiresIn: 0 },
    }),
  ];
};

// ---- organizations (README "Organizations") ------------------------------------
// BA_ORGANIZATIONS=1: the organization plugin with teams and dynamic access control. Its
// access control is Better Auth's default statements plus the app's `task` resource: owner and
// admin may create, read, update and delete tasks, member may create and read (the roles
// tasks-api assumes by default). The jwt plugin's tokens (`GET /token`) then carry the session's
// active organization as custom claims (`definePayload`): `org_id`, `org_role` (the member's
// role there, looked up when the token is made) and `team_id` (the active team).
const ORGANIZATIONS = env.BA_ORGANIZATIONS === "1";
let orgAdapter = null; // set once the auth context exists
const organizationPlugin = async () => {
  if (!ORGANIZATIONS) return [];
  const { organization } = await import("better-auth/plugins");
  const { createAccessControl } = await import("better-auth/plugins/access");
  const { defaultStatements, ownerAc, adminAc, memberAc } = await import("better-auth/plugins/organization/access");
  const allTasks = ["create", "read", "update", "delete"];
  const ac = createAccessControl({ ...defaultStatements, task: allTasks });
  return [
    organization({
      ac,
      roles: {
        owner: ac.newRole({ ...ownerAc.statements, task: allTasks }),
        admin: ac.newRole({ ...adminAc.statements, task: allTasks }),
        member: ac.newRole({ ...memberAc.statements, task: ["create", "read"] }),
      },
      dynamicAccessControl: { enabled: true },
      teams: { enabled: true },
    }),
  ];
};
const organizationClaims = async ({ user, session }) => {
  const organizationId = session?.activeOrganizationId;
  if (!organizationId || !orgAdapter) return {};
  const member = await orgAdapter.findOne({
    model: "member",
    where: [
      { field: "organizationId", value: organizationId },
      { field: "userId", value: user.id },
    ],
  });
  if (!member) return {};
  return {
    org_id: organizationId,
    org_role: member.role,
    ...(session.activeTeamId ? { team_id: session.activeTeamId } : {}),
  };
};

let dbPath = env.BA_DB;
let tmpDir;
if (!dbPath && !DATABASE_URL) {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "better-auth-"));
  dbPath = path.join(tmpDir, "auth.db");
}

// Listen first so PORT=0 works: the origin (issuer) is only known afterwards.
let handler = null;
let db = null;
let migrated = false;
const server = http.createServer((req, res) => {
  if (handler) return handler(req, res);
  res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
  res.end('{"error":"starting"}');
});
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(PORT, HOST, resolve);
});
const port = server.address().port;
const origin = (env.BA_BASE_URL || `http://${HOST.includes(":") ? `[${HOST}]` : HOST}:${port}`).replace(/\/+$/, "");

// ---- shutdown ----------------------------------------------------------------
let stopping = false;
const stop = (sig) => {
  if (stopping) return;
  stopping = true;
  log(`${sig}: shutting down`);
  server.close(() => {
    try {
      if (db?.end) db.end().catch(() => {});
      else db?.close();
    } catch {}
    try {
      if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    } catch {}
    process.exit(0);
  });
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

// The fixed client id/secret are handed out exactly once, to the seed call.
let fixedClient = null;
const takeFixed = (key) => {
  const v = fixedClient?.[key];
  if (fixedClient) fixedClient[key] = undefined;
  return v;
};

const roleList = (user) => String(user?.role ?? "").split(",").map((r) => r.trim()).filter(Boolean);
const permissionList = (p) => {
  if (p == null || p === "") return undefined;
  if (Array.isArray(p)) return p;
  try {
    const parsed = JSON.parse(p);
    if (Array.isArray(parsed)) return parsed;
  } catch {}
  return String(p).split(",").map((s) => s.trim()).filter(Boolean);
};
// Claims derived from the Better Auth user row (admin plugin `role`, plus the
// optional additional fields organizationId / permissions).
const userClaims = (user) => {
  if (!user) return {};
  const claims = {
    email: user.email,
    email_verified: Boolean(user.emailVerified),
    name: user.name,
    role: user.role ?? "user",
  };
  if (user.organizationId) claims.organization_id = user.organizationId;
  const perms = permissionList(user.permissions);
  if (perms) claims.permissions = perms;
  return claims;
};

if (DATABASE_URL) {
  const { default: pg } = await import("pg");
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 5 });
  dbPath = DATABASE_URL.replace(/\/\/[^@/]*@/, "//…@");
} else {
  db = new Database(dbPath);
}
// ---- session cookies ----------------------------------------------------------------
// BA_SECONDARY_STORAGE=redis: sessions live in Redis (BA_REDIS_URL, default
//   redis://127.0.0.1:6379) through Better Auth's `secondaryStorage`, under the session
//   token as the key, as a Redis storage adapter keeps them (a small RESP client below, so
//   no npm package is needed), and in the database as the oauth-provider plugin requires.
// BA_COOKIE_CACHE=1: `session.cookieCache` on (compact strategy, Better Auth's default;
//   maxAge 300 s): sign-in also sets the signed `better-auth.session_data` cookie.
// BA_SESSION_EXPIRES_IN=<seconds>: session lifetime (Better Auth's default: 7 days).
const redisStorage = async (url) => {
  const { hostname, port } = new URL(url);
  const socket = net.createConnection({ host: hostname || "127.0.0.1", port: Number(port || 6379) });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", (e) => log(`redis: ${e.message}`));
  socket.unref();
  const pending = [];
  let buffer = Buffer.alloc(0);
  // One RESP reply at byte `i`: [value, next index], or null while incomplete.
  const parse = (buf, i) => {
    const end = buf.indexOf("\r\n", i);
    if (end < 0) return null;
    const type = String.fromCharCode(buf[i]);
    const line = buf.toString("utf8", i + 1, end);
    if (type === "+") return [line, end + 2];
    if (type === "-") return [new Error(line), end + 2];
    if (type === ":") return [Number(line), end + 2];
    if (type === "$") {
      const len = Number(line);
      if (len < 0) return [null, end + 2];
      if (buf.length < end + 4 + len) return null;
      return [buf.toString("utf8", end + 2, end + 2 + len), end + 4 + len];
    }
    if (type === "*") {
      const items = [];
      let at = end + 2;
      for (let k = 0; k < Number(line); k++) {
        const r = parse(buf, at);
        if (!r) return null;
        items.push(r[0]);
        at = r[1];
      }
      return [items, at];
    }
    throw new Error(`redis: unexpected reply type ${type}`);
  };
  socket.on("data", (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (let r = parse(buffer, 0); r; r = parse(buffer, 0)) {
      buffer = buffer.subarray(r[1]);
      const { resolve, reject } = pending.shift();
      if (r[0] instanceof Error) reject(r[0]);
      else resolve(r[0]);
    }
  });
  const command = (...args) =>
    new Promise((resolve, reject) => {
      pending.push({ resolve, reject });
      const parts = args.map(String).map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`);
      socket.write(`*${args.length}\r\n${parts.join("")}`);
    });
  return {
    get: (key) => command("GET", key),
    // The oauth-provider consumes authorization codes with it (Redis ≥ 6.2).
    getAndDelete: (key) => command("GETDEL", key),
    set: async (key, value, ttl) => {
      await (ttl ? command("SET", key, value, "EX", Math.max(1, Math.floor(ttl))) : command("SET", key, value));
    },
    delete: async (key) => {
      await command("DEL", key);
    },
  };
};
const sessionOptions = {};
if (env.BA_COOKIE_CACHE === "1") sessionOptions.cookieCache = { enabled: true, maxAge: 300, strategy: "compact" };
if (env.BA_SESSION_EXPIRES_IN) sessionOptions.expiresIn = Number(env.BA_SESSION_EXPIRES_IN);
let secondaryStorage;
if (env.BA_SECONDARY_STORAGE === "redis") {
  secondaryStorage = await redisStorage(env.BA_REDIS_URL || "redis://127.0.0.1:6379");
  // The oauth-provider plugin needs the rows in the database too; Redis still holds every
  // session (written on create, deleted on sign-out), which is what the `redis` lookup reads.
  sessionOptions.storeSessionInDatabase = true;
} else if (env.BA_SECONDARY_STORAGE) {
  log(`BA_SECONDARY_STORAGE must be redis, got ${env.BA_SECONDARY_STORAGE}`);
  process.exit(2);
}
const sessionConfig = {
  ...(Object.keys(sessionOptions).length ? { session: sessionOptions } : {}),
  ...(secondaryStorage ? { secondaryStorage } : {}),
};
// ---- end of session cookies --------------------------------------------------------

const auth = betterAuth({
  appName: "ssoguard-interop",
  baseURL: origin,
  basePath: BASE_PATH,
  secret: SECRET,
  database: db,
  logger: {
    level: env.BA_LOG_LEVEL || "warn",
    log: (level, message, ...args) => {
      // SQLite stores string[] columns as TEXT; on a reused BA_DB getMigrations
      // warns about every such column although nothing is wrong.
      if (/has a different type in the database\. Expected string\[\] but got TEXT/.test(message)) return;
      // A fresh database is checked before the migrations below create its tables.
      if (!migrated && /^Database schema mismatch/.test(message)) return;
      console.error(`[better-auth] ${level.toUpperCase()} ${message}`, ...args);
    },
  },
  trustedOrigins: [origin, new URL(REDIRECT_URI).origin, "http://localhost:3000"],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  emailAndPassword: { enabled: true, requireEmailVerification: false },
  ...sessionConfig,
  user: {
    additionalFields: {
      organizationId: { type: "string", required: false, input: false },
      permissions: { type: "string", required: false, input: false },
    },
  },
  plugins: [
    jwt({
      jwks: {
        keyPairConfig: { alg: ALG },
        ...(ROTATION ? { rotationInterval: ROTATION } : {}),
        ...(GRACE != null ? { gracePeriod: GRACE } : {}),
      },
      ...(env.BA_JWT_ISSUER || env.BA_JWT_AUDIENCE || ORGANIZATIONS
        ? {
            jwt: {
              ...(env.BA_JWT_ISSUER ? { issuer: env.BA_JWT_ISSUER } : {}),
              ...(env.BA_JWT_AUDIENCE ? { audience: env.BA_JWT_AUDIENCE } : {}),
              // The default payload is the user; organizations add their claims to it.
              ...(ORGANIZATIONS
                ? { definePayload: async (s) => ({ ...s.user, ...(await organizationClaims(s)) }) }
                : {}),
            },
          }
        : {}),
    }),
    oauthProvider({
      loginPage: `${origin}/login`,
      consentPage: `${origin}/consent`,
      scopes: [...USER_SCOPES, ...M2M_SCOPES, ...MCP_SCOPES],
      resources: [RESOURCE, ...(MCP_RESOURCE ? [MCP_RESOURCE] : [])],
      ...mcpOptions,
      generateClientId: () => takeFixed("id") ?? undefined,
      generateClientSecret: () => takeFixed("secret") ?? undefined,
      // Only admins may create/update clients and set client_credentials scopes.
      clientPrivileges: ({ user }) => roleList(user).includes("admin"),
      customIdTokenClaims: ({ user }) => userClaims(user),
      customAccessTokenClaims: ({ user }) => userClaims(user),
      customUserInfoClaims: ({ user }) => userClaims(user),
      ...(env.BA_ID_TOKEN_SECONDS ? { idTokenExpiresIn: Number(env.BA_ID_TOKEN_SECONDS) } : {}),
    }),
    admin(),
    bearer(),
    ...(await apiKeyPlugin()),
    ...(await organizationPlugin()),
  ],
});

// ---- migrations ----------------------------------------------------------
const t0 = Date.now();
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();
migrated = true;

const ctx = await auth.$context;
const adapter = ctx.adapter;
orgAdapter = adapter;

// Better Auth keeps signing with an existing key of another algorithm when
// keyPairConfig.alg changes, so a reused BA_DB would silently ignore BA_ALG.
const otherAlgs = (await adapter.findMany({ model: "jwks" }))
  .map((k) => k.alg)
  .filter((a) => a && a !== ALG);
if (otherAlgs.length) {
  log(`BA_DB ${dbPath} already holds signing keys for ${[...new Set(otherAlgs)].join(", ")}; BA_ALG=${ALG} needs a fresh database`);
  process.exit(2);
}

// ---- seed: admin user ------------------------------------------------------
if (!(await ctx.internalAdapter.findUserByEmail(ADMIN_EMAIL))) {
  // Server-side call without headers: allowed by the admin plugin, sets role.
  await auth.api.createUser({
    body: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD, name: "Seed Admin", role: "admin" },
  });
}
const signIn = await auth.api.signInEmail({
  body: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
  returnHeaders: true,
});
const adminHeaders = new Headers({ authorization: `Bearer ${signIn.response.token}` });

// ---- seed: OAuth client + resource -------------------------------------------
const existing = await adapter.findOne({ model: "oauthClient", where: [{ field: "clientId", value: CLIENT_ID }] });
if (existing) {
  // Recreate so that a changed BA_CLIENT_SECRET (or config) always applies.
  await adapter.deleteMany({ model: "oauthClientResource", where: [{ field: "clientId", value: CLIENT_ID }] });
  await adapter.delete({ model: "oauthClient", where: [{ field: "clientId", value: CLIENT_ID }] });
}
fixedClient = { id: CLIENT_ID, secret: CLIENT_SECRET };
const created = await auth.api.adminCreateOAuthClient({
  headers: adminHeaders,
  body: {
    client_name: "ssoguard rust backend",
    redirect_uris: [REDIRECT_URI],
    // http://localhost redirect URIs are only accepted for native clients.
    application_type: "native",
    token_endpoint_auth_method: "client_secret_basic",
    grant_types: ["authorization_code", "refresh_token", "client_credentials"],
    response_types: ["code"],
    scope: [...USER_SCOPES, ...M2M_SCOPES, ...MCP_SCOPES].join(" "),
    client_credentials_scopes: M2M_SCOPES,
    skip_consent: true,
  },
});
fixedClient = null;
if (created.client_id !== CLIENT_ID || created.client_secret !== CLIENT_SECRET) {
  throw new Error(`seeded client came back as ${created.client_id}`);
}
const resourceRow = await adapter.findOne({ model: "oauthResource", where: [{ field: "identifier", value: RESOURCE }] });
if (!resourceRow) {
  await auth.api.adminCreateOAuthResource({ headers: adminHeaders, body: { identifier: RESOURCE, name: "ssoguard API" } });
}
await auth.api.adminLinkClientResource({
  headers: adminHeaders,
  params: { identifier: RESOURCE, client_id: CLIENT_ID },
});
if (MCP_RESOURCE) {
  await auth.api.adminLinkClientResource({
    headers: adminHeaders,
    params: { identifier: MCP_RESOURCE, client_id: CLIENT_ID },
  });
}
// BA_BACKCHANNEL_LOGOUT_URI: the seeded client's OIDC back-channel logout URI, written into its
// row: Better Auth's registration accepts only public https URIs, and a test's receiver is plain
// http on 127.0.0.1. With it, Better Auth puts `sid` in the client's id_tokens and POSTs a logout
// token to the URI when a session with the client's tokens ends (sign-out).
if (env.BA_BACKCHANNEL_LOGOUT_URI) {
  await adapter.update({
    model: "oauthClient",
    where: [{ field: "clientId", value: CLIENT_ID }],
    update: { backchannelLogoutUri: env.BA_BACKCHANNEL_LOGOUT_URI },
  });
}
// The admin's seed session is not needed any more.
await auth.api.signOut({ headers: adminHeaders }).catch(() => {});

const authHandler = toNodeHandler(auth);
const rootDiscovery = ROOT_DISCOVERY ? oauthProviderOpenIdConfigMetadata(auth) : null;
handler = async (req, res) => {
  if (rootDiscovery && req.method === "GET" && req.url.split("?")[0] === "/.well-known/openid-configuration") {
    // What the docs' Next.js route handler does, on node:http.
    const answer = await rootDiscovery(new Request(`${origin}${req.url}`, { headers: { accept: "application/json" } }));
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    return res.end(await answer.text());
  }
  return authHandler(req, res);
};
if (env.BA_PAGES) handler = await (await import("./pages.mjs")).withPages(auth, handler, { origin, clientId: CLIENT_ID });
log(`better-auth=${BETTER_AUTH_VERSION} organizations=${ORGANIZATIONS} db=${dbPath} secondaryStorage=${secondaryStorage ? "redis" : "none"} cookieCache=${sessionOptions.cookieCache ? "compact" : "off"} alg=${ALG} basePath=${BASE_PATH} rootDiscovery=${ROOT_DISCOVERY} client=${CLIENT_ID} resource=${RESOURCE} mcpResource=${MCP_RESOURCE || "none"} setup=${Date.now() - t0}ms`);
process.stdout.write(`READY ${origin}\n`);
