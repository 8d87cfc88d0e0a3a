// The official MCP TypeScript SDK (@modelcontextprotocol/sdk, pinned by package-lock.json) as
// a client of an OAuth-protected MCP server, signing in through a real Better Auth.
//
//   node oauth-client.mjs <mcp-url> <ba-origin> <email> <password> <scope...>
//
// Everything OAuth is the SDK's own client (`StreamableHTTPClientTransport` with an
// `OAuthClientProvider`): the 401 with `resource_metadata`, the protected resource metadata
// (RFC 9728), the authorization server metadata (RFC 8414), dynamic client registration
// (RFC 7591, a public client), the authorization request with PKCE and `resource` (RFC 8707),
// and the code exchange. The only part played here is the user's browser: the user signs in at
// Better Auth's own endpoint (`POST /sign-in/email`), opens the authorization URL the SDK hands
// to `redirectToAuthorization`, and, on Better Auth's consent page, grants `<scope...>` (which
// may be less than the SDK asked for: Better Auth's consent takes a narrower `scope`). The code
// from the redirect's `Location` goes to `transport.finishAuth(code)`.
//
// Then `tools/list`, `tools/call create_task` and `tools/call list_tasks`. When `create_task`
// meets the step-up answer (403 `insufficient_scope`), what the SDK does is recorded: it asks
// for a new authorization with the challenge's `scope`. The user then grants that scope, the
// code is handed to `finishAuth` and `create_task` is called again.
//
// MCP_CALLS='[["<tool>", {<arguments>}], ...]' (environment): call those tools instead, in
// order, each result in `calls` (any MCP server, e.g. one behind ssoguard-gateway).
//
// stdout: one JSON line (see `report` below). stderr: what happened, step by step. Exit 0
// when the script ran to its end (the JSON says what the server answered), 1 on anything
// unexpected.
import crypto from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { request } from "../better-auth/http.mjs";

const [mcpUrlArg, originArg, email, password, ...granted] = process.argv.slice(2);
if (!mcpUrlArg || !originArg || !email || !password || !granted.length) {
  console.error("usage: node oauth-client.mjs <mcp-url> <ba-origin> <email> <password> <scope...>");
  process.exit(2);
}
const MCP_URL = new URL(mcpUrlArg);
const ORIGIN = originArg.replace(/\/+$/, "");
const BASE = `${ORIGIN}/api/auth`;
// Nothing listens there: the code is read from the redirect's Location, as a native app would.
const REDIRECT_URI = "http://127.0.0.1:8976/callback";
const say = (...a) => console.error("[oauth-client]", ...a);
const fail = (message) => {
  say(`FAILED: ${message}`);
  process.exit(1);
};

// Every HTTP exchange the SDK makes, in order: the evidence of the discovery sequence.
const exchanges = [];
const recordingFetch = async (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  const method = init?.method || (typeof input === "object" && input.method) || "GET";
  const response = await fetch(input, init);
  const entry = { method, url, status: response.status };
  const challenge = response.headers.get("www-authenticate");
  if (challenge) entry.www_authenticate = challenge;
  exchanges.push(entry);
  say(`${method} ${url} -> ${response.status}${challenge ? ` (${challenge})` : ""}`);
  return response;
};

// The SDK's OAuthClientProvider, in memory: one MCP client installation.
const authorizationRequests = [];
const provider = {
  stored: { tokens: undefined, client: undefined, verifier: undefined, discovery: undefined },
  get redirectUrl() {
    return REDIRECT_URI;
  },
  get clientMetadata() {
    return {
      client_name: "ssoguard interop: MCP TypeScript SDK",
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      // A desktop MCP client with a loopback redirect: Better Auth requires https redirect
      // URIs of web clients (the default type), loopback http of native ones (RFC 8252).
      application_type: "native",
    };
  },
  state: () => crypto.randomBytes(12).toString("base64url"),
  clientInformation() {
    return this.stored.client;
  },
  saveClientInformation(info) {
    this.stored.client = info;
  },
  tokens() {
    return this.stored.tokens;
  },
  saveTokens(tokens) {
    this.stored.tokens = tokens;
  },
  redirectToAuthorization(url) {
    // The "browser" opens it below; the SDK's caller sees an UnauthorizedError meanwhile.
    authorizationRequests.push(new URL(url));
    say(`the SDK sends the user to ${url}`);
  },
  saveCodeVerifier(verifier) {
    this.stored.verifier = verifier;
  },
  codeVerifier() {
    return this.stored.verifier;
  },
  saveDiscoveryState(state) {
    this.stored.discovery = state;
  },
  discoveryState() {
    return this.stored.discovery;
  },
};

// ---- the user's browser at Better Auth ----------------------------------------------------
let session;
async function signIn() {
  const res = await request("POST", `${BASE}/sign-in/email`, { headers: { origin: ORIGIN }, json: { email, password } });
  const cookie = (res.headers["set-cookie"] || []).find((c) => c.startsWith("better-auth.session_token="));
  if (res.status !== 200 || !cookie) fail(`sign-in ${email}: ${res.status} ${res.text}`);
  return { cookie: cookie.split(";")[0], userId: res.data.user.id };
}

// Opens the SDK's authorization URL with the session, grants `scopes` on the consent page if
// Better Auth shows it, and returns the code from the redirect back to the client.
async function userAuthorizes(authorizationUrl, scopes) {
  const visit = { requested_scope: authorizationUrl.searchParams.get("scope"), resource: authorizationUrl.searchParams.get("resource") };
  let res = await request("GET", authorizationUrl.href, { headers: { cookie: session.cookie } });
  if (res.status !== 302 || !res.headers.location) fail(`authorize: ${res.status} ${res.text}`);
  let location = new URL(res.headers.location, ORIGIN);
  visit.consent = location.origin === ORIGIN && location.pathname === "/consent";
  if (visit.consent) {
    visit.granted_scope = scopes.join(" ");
    say(`consent page: granting "${visit.granted_scope}" of "${visit.requested_scope}"`);
    res = await request("POST", `${BASE}/oauth2/consent`, {
      headers: { cookie: session.cookie, origin: ORIGIN },
      json: { accept: true, scope: visit.granted_scope, oauth_query: location.search.slice(1) },
    });
    const next = res.data?.redirect_uri || res.data?.url;
    if (res.status !== 200 || !next) fail(`consent: ${res.status} ${res.text}`);
    location = new URL(next);
  }
  if (`${location.origin}${location.pathname}` !== REDIRECT_URI) fail(`redirected to ${location.href}, not the client`);
  const code = location.searchParams.get("code");
  if (!code) fail(`no code in ${location.href}`);
  if (location.searchParams.get("state") !== authorizationUrl.searchParams.get("state")) fail("state not echoed");
  return { code, visit };
}

// ---- the MCP client ----------------------------------------------------------------------
const newTransport = () => new StreamableHTTPClientTransport(MCP_URL, { authProvider: provider, fetch: recordingFetch });
const client = new Client({ name: "ssoguard-interop-ts", version: "0.0.0" });
const claims = (jwt) => {
  const parts = (jwt || "").split(".");
  if (parts.length !== 3) return null;
  return JSON.parse(Buffer.from(parts[1], "base64url"));
};
const toolResult = (result) => ({
  is_error: Boolean(result.isError),
  text: result.content?.filter((c) => c.type === "text").map((c) => c.text),
  structured: result.structuredContent ?? null,
});
const describe = (error) => ({
  class: error?.constructor?.name,
  message: String(error?.message ?? error),
  ...(error?.code !== undefined ? { code: error.code } : {}),
});

const report = { granted_scope: granted.join(" ") };
session = await signIn();
report.user_id = session.userId;

// 1. The first connection meets the 401; the SDK discovers, registers and asks for authorization.
const first = newTransport();
try {
  await client.connect(first);
  fail("connect without a token succeeded");
} catch (error) {
  if (!(error instanceof UnauthorizedError)) fail(`connect without a token: ${error.stack || error}`);
  report.first_connect_error = describe(error);
}
if (authorizationRequests.length !== 1) fail(`expected one authorization request, got ${authorizationRequests.length}`);
report.client_id = provider.stored.client?.client_id;
report.registration = provider.stored.client
  ? {
      token_endpoint_auth_method: provider.stored.client.token_endpoint_auth_method,
      has_client_secret: Boolean(provider.stored.client.client_secret),
      scope: provider.stored.client.scope,
    }
  : null;
const login = await userAuthorizes(authorizationRequests[0], granted);
report.authorization = login.visit;
await first.finishAuth(login.code);
report.token = claims(provider.stored.tokens?.access_token);
report.token_response_scope = provider.stored.tokens?.scope;
report.access_token = provider.stored.tokens?.access_token;

// 2. Connected with the token: the tools.
const transport = newTransport();
await client.connect(transport);
report.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const call = async (name, args) => {
  try {
    return { ok: toolResult(await client.callTool({ name, arguments: args })) };
  } catch (error) {
    return { error: describe(error) };
  }
};
if (process.env.MCP_CALLS) {
  report.calls = [];
  for (const [name, args] of JSON.parse(process.env.MCP_CALLS)) report.calls.push({ tool: name, ...(await call(name, args)) });
  report.exchanges = exchanges;
  await client.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}
const title = `from the MCP TypeScript SDK ${crypto.randomBytes(4).toString("hex")}`;
report.title = title;
const before = authorizationRequests.length;
const exchangesBefore = exchanges.length;
report.create_task = await call("create_task", { title });
if (report.create_task.error) {
  // The step-up: what the SDK did with the 403 (the HTTP exchanges since the call, and the
  // authorization request it made), then the user grants the new scope and the call is repeated.
  const stepUp = { exchanges: exchanges.slice(exchangesBefore) };
  report.list_tasks_after_refusal = await call("list_tasks", {});
  if (authorizationRequests.length > before) {
    const again = authorizationRequests[authorizationRequests.length - 1];
    stepUp.authorization_request = { scope: again.searchParams.get("scope"), resource: again.searchParams.get("resource") };
    const more = await userAuthorizes(again, again.searchParams.get("scope").split(" "));
    stepUp.authorization = more.visit;
    await transport.finishAuth(more.code);
    stepUp.token = claims(provider.stored.tokens?.access_token);
    stepUp.create_task = await call("create_task", { title });
  }
  report.step_up = stepUp;
}
report.list_tasks = await call("list_tasks", {});
report.exchanges = exchanges;
await client.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
