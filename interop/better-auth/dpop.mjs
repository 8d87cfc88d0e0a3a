// DPoP-bound tokens from a running server.mjs, for ssoguard's DPoP tests
// (crates/tasks-api/tests/dpop_better_auth.rs): a real DPoP client built on `jose` (a
// dependency of better-auth, already in node_modules).
//
//   node dpop.mjs <origin> <pkcs8-base64url> <email> <password>
//
// <pkcs8-base64url> is the client's ES256 private key (PKCS#8 DER); every token request carries
// a DPoP proof (RFC 9449 §4) signed with it, so Better Auth binds the tokens to its thumbprint
// (`cnf.jkt`, `token_type: "DPoP"`). Prints one JSON line:
//   {"client_credentials_jwt", "client_credentials_opaque", "authorization_code", "refresh"}
// each {"access_token", "token_type"} (authorization_code: also "refresh_token").
//
// Raw node:http, as flow.mjs does (fetch adds `sec-fetch-mode`, which changes Better Auth's answers).
import { request } from "./http.mjs";
import crypto from "node:crypto";
import { SignJWT, exportJWK } from "jose";

const [origin, pkcs8, email, password] = process.argv.slice(2);
const BASE = `${origin}/api/auth`;
const CLIENT_ID = process.env.BA_CLIENT_ID || "rust-backend";
const CLIENT_SECRET = process.env.BA_CLIENT_SECRET || "rust-backend-secret";
const RESOURCE = process.env.BA_RESOURCE || "http://localhost:8000";
const REDIRECT_URI = process.env.BA_REDIRECT_URI || "http://localhost:8976/callback";
const BASIC = "Basic " + Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString("base64");

const privateKey = crypto.createPrivateKey({ key: Buffer.from(pkcs8, "base64url"), format: "der", type: "pkcs8" });
const { d: _d, ...publicJwk } = await exportJWK(privateKey);

/** A DPoP proof for `method` `url` (RFC 9449 §4.2). */
const proof = (method, url) =>
  new SignJWT({ htm: method, htu: url, jti: crypto.randomUUID() })
    .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: publicJwk })
    .setIssuedAt()
    .sign(privateKey);

const fail = (message, res) => {
  console.error(`dpop.mjs: ${message}${res ? ` (${res.status} ${res.text})` : ""}`);
  process.exit(1);
};

/** The token endpoint with a DPoP proof: the answer, which must be DPoP-bound. */
async function token(form, what) {
  const url = `${BASE}/oauth2/token`;
  const res = await request("POST", url, { headers: { authorization: BASIC, dpop: await proof("POST", url) }, form });
  if (res.status !== 200 || !res.data?.access_token) fail(`${what}: token request`, res);
  if (res.data.token_type !== "DPoP") fail(`${what}: token_type ${res.data.token_type}, not DPoP`, res);
  return res.data;
}
const pick = ({ access_token, token_type, refresh_token }) => ({ access_token, token_type, ...(refresh_token ? { refresh_token } : {}) });

const clientCredentialsJwt = await token({ grant_type: "client_credentials", scope: "api:read", resource: RESOURCE }, "client_credentials (JWT)");
const clientCredentialsOpaque = await token({ grant_type: "client_credentials", scope: "api:read" }, "client_credentials (opaque)");

// Authorization code with PKCE: the login page's sign-in completes the authorization.
const verifier = crypto.randomBytes(32).toString("base64url");
const query = new URLSearchParams({
  response_type: "code",
  client_id: CLIENT_ID,
  redirect_uri: REDIRECT_URI,
  scope: "openid profile email offline_access",
  state: crypto.randomBytes(12).toString("base64url"),
  nonce: crypto.randomBytes(12).toString("base64url"),
  code_challenge: crypto.createHash("sha256").update(verifier).digest("base64url"),
  code_challenge_method: "S256",
  resource: RESOURCE,
});
const authorize = await request("GET", `${BASE}/oauth2/authorize?${query}`);
const loginPage = `${origin}/login?`;
const location = authorize.headers.location || "";
if (authorize.status !== 302 || !location.startsWith(loginPage)) fail("authorize did not redirect to the login page", authorize);
const signIn = await request("POST", `${BASE}/sign-in/email`, {
  headers: { origin },
  json: { email, password, oauth_query: location.slice(loginPage.length) },
});
const code = signIn.data?.url && new URL(signIn.data.url).searchParams.get("code");
if (!code) fail("sign-in with oauth_query", signIn);
const authorizationCode = await token(
  { grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: verifier, resource: RESOURCE },
  "authorization_code",
);
if (!authorizationCode.refresh_token) fail("authorization_code: no refresh_token");
const refresh = await token(
  { grant_type: "refresh_token", refresh_token: authorizationCode.refresh_token, resource: RESOURCE },
  "refresh_token",
);

console.log(JSON.stringify({
  client_credentials_jwt: pick(clientCredentialsJwt),
  client_credentials_opaque: pick(clientCredentialsOpaque),
  authorization_code: pick(authorizationCode),
  refresh: pick(refresh),
}));
