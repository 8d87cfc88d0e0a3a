// Headless demo of every token flow against a running server.mjs.
//
//   node flow.mjs [origin]          (default: $BA_ORIGIN or http://127.0.0.1:3001)
//
// It talks raw HTTP through node:http (not fetch) so that exactly the headers
// shown are sent, as a Rust reqwest client would: node's fetch silently adds
// `sec-fetch-mode: cors`, which changes Better Auth's behaviour (JSON instead
// of 302 on /oauth2/authorize, stricter Origin checks).
//
// Every JWT is verified against /api/auth/jwks with node:crypto. The script
// exits non-zero on the first step that does not behave as documented.
import { request } from "./http.mjs";
import crypto from "node:crypto";

const ORIGIN = (process.argv[2] || process.env.BA_ORIGIN || "http://127.0.0.1:3001").replace(/\/+$/, "");
const BASE = `${ORIGIN}/api/auth`;
const CLIENT_ID = process.env.BA_CLIENT_ID || "rust-backend";
const CLIENT_SECRET = process.env.BA_CLIENT_SECRET || "rust-backend-secret";
const RESOURCE = process.env.BA_RESOURCE || "http://localhost:8000";
const REDIRECT_URI = process.env.BA_REDIRECT_URI || "http://localhost:8976/callback";
const QUIET = process.env.FLOW_QUIET === "1";
const BASIC = "Basic " + Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString("base64");

// ---------------------------------------------------------------- helpers ---
const b64url = (buf) => Buffer.from(buf).toString("base64url");
const fail = (msg, res) => {
  console.error(`\nFAILED: ${msg}`);
  if (res) console.error(`  status ${res.status}\n  headers ${JSON.stringify(res.headers)}\n  body ${res.text}`);
  process.exit(1);
};
const expect = (cond, msg, res) => { if (!cond) fail(msg, res); };
const step = (title) => console.log(`\n=== ${title}`);
const show = (label, v) => { if (!QUIET) console.log(`${label}: ${typeof v === "string" ? v : JSON.stringify(v, null, 2)}`); };
const sessionCookie = (res) => {
  const c = (res.headers["set-cookie"] || []).find((s) => s.startsWith("better-auth.session_token="));
  return c ? c.split(";")[0] : undefined; // "better-auth.session_token=<token>.<sig, url-encoded>"
};

let jwks;
function decodeJwt(token) {
  const [h, p] = token.split(".");
  return { header: JSON.parse(Buffer.from(h, "base64url")), payload: JSON.parse(Buffer.from(p, "base64url")) };
}
function verifyJwt(token, label) {
  const [h, p, s] = token.split(".");
  const { header, payload } = decodeJwt(token);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  expect(jwk, `${label}: kid ${header.kid} not in JWKS`);
  const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, "base64url");
  const hash = { EdDSA: null, ES256: "sha256", ES512: "sha512", RS256: "sha256", PS256: "sha256" }[header.alg];
  expect(hash !== undefined, `${label}: unexpected alg ${header.alg}`);
  const opts = { key };
  if (header.alg.startsWith("ES")) opts.dsaEncoding = "ieee-p1363";
  if (header.alg.startsWith("PS")) { opts.padding = crypto.constants.RSA_PKCS1_PSS_PADDING; opts.saltLength = 32; }
  expect(crypto.verify(hash, data, opts, sig), `${label}: signature does not verify with JWKS key ${header.kid}`);
  show(`${label} header`, header);
  show(`${label} payload`, payload);
  console.log(`${label}: signature OK (${header.alg}, kid ${header.kid})`);
  return { header, payload };
}
const pkce = () => {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash("sha256").update(verifier).digest());
  return { verifier, challenge };
};
const authorizeUrl = (params) => `${BASE}/oauth2/authorize?${new URLSearchParams(params)}`;

async function signIn(email, password) {
  const res = await request("POST", `${BASE}/sign-in/email`, { json: { email, password } });
  expect(res.status === 200 && res.data.token, `sign-in ${email}`, res);
  const cookie = sessionCookie(res);
  const bearer = res.headers["set-auth-token"];
  expect(cookie && bearer, "sign-in must return the session cookie and set-auth-token", res);
  return { cookie, bearer, user: res.data.user, rawToken: res.data.token };
}

// Authorization code + PKCE (S256) with an existing session cookie.
async function authorizeCode(cookie, { scope, resource, accept, bearer } = {}) {
  const { verifier, challenge } = pkce();
  const state = b64url(crypto.randomBytes(12));
  const nonce = b64url(crypto.randomBytes(12));
  const params = {
    response_type: "code", client_id: CLIENT_ID, redirect_uri: REDIRECT_URI,
    scope: scope || "openid profile email offline_access", state, nonce,
    code_challenge: challenge, code_challenge_method: "S256",
  };
  if (resource) params.resource = resource;
  const headers = bearer ? { authorization: `Bearer ${bearer}` } : { cookie };
  if (accept) headers.accept = accept;
  const res = await request("GET", authorizeUrl(params), { headers });
  let location;
  if (accept === "application/json") {
    expect(res.status === 200 && res.data.redirect === true, "authorize with Accept: application/json → 200 {redirect,url}", res);
    location = res.data.url;
  } else {
    expect(res.status === 302 && res.headers.location, "authorize → 302 Location", res);
    location = res.headers.location;
  }
  const loc = new URL(location);
  expect(loc.origin + loc.pathname === REDIRECT_URI, `redirected to ${location}`, res);
  expect(loc.searchParams.get("state") === state, "state echoed", res);
  const code = loc.searchParams.get("code");
  expect(code, `no code in ${location}`, res);
  return { code, verifier, nonce, location, status: res.status };
}

async function token(form, { auth = BASIC } = {}) {
  return request("POST", `${BASE}/oauth2/token`, { headers: { authorization: auth }, form });
}

// ------------------------------------------------------------------- flow ---
step("0. discovery + JWKS");
const disco = await request("GET", `${BASE}/.well-known/openid-configuration`);
expect(disco.status === 200 && disco.data.issuer === BASE, "issuer must be <origin>/api/auth", disco);
show("issuer", disco.data.issuer);
show("id_token_signing_alg_values_supported", disco.data.id_token_signing_alg_values_supported);
const jwksRes = await request("GET", `${BASE}/jwks`);
expect(jwksRes.status === 200 && jwksRes.data.keys?.length, "jwks", jwksRes);
jwks = jwksRes.data;
show("jwks", jwks);

step("1. sign up a new user (POST /sign-up/email, JSON)");
const email = `user-${Date.now()}-${crypto.randomBytes(3).toString("hex")}@example.com`;
const password = "user-password-123";
const signUp = await request("POST", `${BASE}/sign-up/email`, { json: { email, password, name: "Flow User" } });
expect(signUp.status === 200 && signUp.data.user?.id, "sign-up", signUp);
const userId = signUp.data.user.id;
show("user", signUp.data.user);

step("2. sign in (POST /sign-in/email, JSON) → session cookie + set-auth-token");
const user = await signIn(email, password);
show("cookie", user.cookie);
show("set-auth-token", user.bearer);
show("body.token", user.rawToken);

step("3. authorization code + PKCE (GET /oauth2/authorize with Cookie)");
const a1 = await authorizeCode(user.cookie);
show("302 Location", a1.location);
const a1json = await authorizeCode(user.cookie, { accept: "application/json" });
show("Accept: application/json → 200 url", a1json.location);

const a1bearer = await authorizeCode(undefined, { bearer: user.bearer });
show("Authorization: Bearer <set-auth-token> instead of Cookie → 302 Location", a1bearer.location);

step("3b. login-page variant (what a Next.js front end does): authorize without a session");
{
  const { verifier, challenge } = pkce();
  const state = b64url(crypto.randomBytes(12));
  const res = await request("GET", authorizeUrl({
    response_type: "code", client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: "openid profile email offline_access",
    state, code_challenge: challenge, code_challenge_method: "S256",
  }));
  expect(res.status === 302 && res.headers.location.startsWith(`${ORIGIN}/login?`), "unauthenticated authorize → 302 to loginPage", res);
  show("302 Location (loginPage)", res.headers.location);
  const oauthQuery = new URL(res.headers.location).search.slice(1); // signed: ends with &sig=…
  const si = await request("POST", `${BASE}/sign-in/email`, { json: { email, password, oauth_query: oauthQuery } });
  expect(si.status === 200 && si.data.redirect === true && si.data.url?.startsWith(REDIRECT_URI), "sign-in with oauth_query → {redirect,url}", si);
  show("sign-in with oauth_query → body", si.data);
  const code = new URL(si.data.url).searchParams.get("code");
  const tk = await token({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  expect(tk.status === 200 && tk.data.id_token, "token after login-page variant", tk);
  console.log("login-page variant: code exchanged OK");
}

step("4. code → tokens (POST /oauth2/token, client_secret_basic, form)");
const t1 = await token({ grant_type: "authorization_code", code: a1.code, redirect_uri: REDIRECT_URI, code_verifier: a1.verifier });
expect(t1.status === 200 && t1.data.id_token && t1.data.access_token && t1.data.refresh_token, "token exchange", t1);
console.log(`id_token=${t1.data.id_token}`);
console.log(`access_token=${t1.data.access_token}`);
console.log(`refresh_token=${t1.data.refresh_token}`);
show("token response", { ...t1.data, id_token: "…", access_token: "…", refresh_token: "…" });
const id1 = verifyJwt(t1.data.id_token, "id_token");
expect(id1.payload.iss === BASE && id1.payload.aud === CLIENT_ID && id1.payload.sub === userId, "id_token iss/aud/sub");
expect(id1.payload.nonce === a1.nonce, "id_token nonce");
expect(id1.payload.email === email && id1.payload.role === "user", "id_token custom claims email/role");
expect(t1.data.access_token.split(".").length !== 3, "access token without resource should be opaque");

step("5. refresh_token grant");
const t2 = await token({ grant_type: "refresh_token", refresh_token: t1.data.refresh_token });
expect(t2.status === 200 && t2.data.access_token && t2.data.refresh_token, "refresh", t2);
expect(t2.data.refresh_token !== t1.data.refresh_token, "refresh token rotates");
show("refresh response keys", Object.keys(t2.data));
if (t2.data.id_token) verifyJwt(t2.data.id_token, "refreshed id_token");

step("5b. code replay revokes what the code issued (RFC 6749 §4.1.2)");
const ar = await authorizeCode(user.cookie);
const tr = await token({ grant_type: "authorization_code", code: ar.code, redirect_uri: REDIRECT_URI, code_verifier: ar.verifier });
expect(tr.status === 200, "token for replay demo", tr);
const replay = await token({ grant_type: "authorization_code", code: ar.code, redirect_uri: REDIRECT_URI, code_verifier: ar.verifier });
expect(replay.status === 400, "code replay must fail", replay);
show("code replay", `${replay.status} ${replay.text}`);
const afterReplay = await token({ grant_type: "refresh_token", refresh_token: tr.data.refresh_token });
show("refresh token of the replayed code", `${afterReplay.status} ${afterReplay.text}`);
const badVerifier = await authorizeCode(user.cookie);
const bv = await token({ grant_type: "authorization_code", code: badVerifier.code, redirect_uri: REDIRECT_URI, code_verifier: pkce().verifier });
expect(bv.status >= 400, "wrong code_verifier must fail", bv);
show("wrong code_verifier", `${bv.status} ${bv.text}`);

step("6. JWT access token: resource=<BA_RESOURCE> on authorize + token request");
const a3 = await authorizeCode(user.cookie, { resource: RESOURCE });
const t3 = await token({ grant_type: "authorization_code", code: a3.code, redirect_uri: REDIRECT_URI, code_verifier: a3.verifier, resource: RESOURCE });
expect(t3.status === 200, "token with resource", t3);
console.log(`jwt access_token=${t3.data.access_token}`);
const at3 = verifyJwt(t3.data.access_token, "access_token (JWT)");
expect(at3.header.typ === "at+jwt", "typ at+jwt");
expect([].concat(at3.payload.aud).includes(RESOURCE), "aud includes resource");
show("refresh_token present", Boolean(t3.data.refresh_token));
// resource only on the token request (not on authorize)
const a3b = await authorizeCode(user.cookie);
const t3b = await token({ grant_type: "authorization_code", code: a3b.code, redirect_uri: REDIRECT_URI, code_verifier: a3b.verifier, resource: RESOURCE });
show("resource only at token endpoint", `${t3b.status} ${t3b.status === 200 ? "JWT=" + (t3b.data.access_token.split(".").length === 3) : t3b.text}`);
// resource with scope openid omitted → aud is a plain string
const a3c = await authorizeCode(user.cookie, { scope: "profile email", resource: RESOURCE });
const t3c = await token({ grant_type: "authorization_code", code: a3c.code, redirect_uri: REDIRECT_URI, code_verifier: a3c.verifier, resource: RESOURCE });
expect(t3c.status === 200, "token without openid", t3c);
show("aud without openid scope", decodeJwt(t3c.data.access_token).payload.aud);
const badRes = await token({ grant_type: "refresh_token", refresh_token: t2.data.refresh_token, resource: "http://localhost:9999" });
show("unknown resource", `${badRes.status} ${badRes.text}`);

step("7. admin: set role 'user,admin' (POST /admin/set-role, Bearer = admin's set-auth-token)");
const forbidden = await request("POST", `${BASE}/admin/set-role`, {
  headers: { authorization: `Bearer ${user.bearer}` }, json: { userId, role: "admin" },
});
expect(forbidden.status === 403, "a plain user must not be able to set roles", forbidden);
show("set-role by a plain user", `${forbidden.status} ${forbidden.text}`);
const guForbidden = await request("GET", `${BASE}/admin/get-user?id=${encodeURIComponent(userId)}`, {
  headers: { authorization: `Bearer ${user.bearer}` },
});
show("get-user by a plain user", `${guForbidden.status} ${guForbidden.text}`);
const adm = await signIn("admin@example.com", "admin-password-123");
show("admin set-auth-token", adm.bearer);
const setRole = await request("POST", `${BASE}/admin/set-role`, {
  headers: { authorization: `Bearer ${adm.bearer}` }, json: { userId, role: ["user", "admin"] },
});
expect(setRole.status === 200 && setRole.data.user.role === "user,admin", "set-role", setRole);
show("set-role → user.role", setRole.data.user.role);
const upd = await request("POST", `${BASE}/admin/update-user`, {
  headers: { authorization: `Bearer ${adm.bearer}` },
  json: { userId, data: { organizationId: "org_123", permissions: "read:reports,write:reports" } },
});
expect(upd.status === 200, "admin update-user (organizationId/permissions)", upd);
show("update-user → organizationId/permissions", { organizationId: upd.data.organizationId, permissions: upd.data.permissions });

step("7b. CSRF rule: a POST that carries a Cookie needs a trusted Origin header");
{
  const noOrigin = await request("POST", `${BASE}/admin/set-role`, { headers: { cookie: adm.cookie }, json: { userId, role: ["user", "admin"] } });
  expect(noOrigin.status === 403, "cookie POST without Origin must be refused", noOrigin);
  show("Cookie, no Origin", `${noOrigin.status} ${noOrigin.text}`);
  const badOrigin = await request("POST", `${BASE}/admin/set-role`, { headers: { cookie: adm.cookie, origin: "http://evil.example" }, json: { userId, role: ["user", "admin"] } });
  show("Cookie, Origin: http://evil.example", `${badOrigin.status} ${badOrigin.text}`);
  const withOrigin = await request("POST", `${BASE}/admin/set-role`, { headers: { cookie: adm.cookie, origin: ORIGIN }, json: { userId, role: ["user", "admin"] } });
  expect(withOrigin.status === 200, "cookie POST with Origin", withOrigin);
  show(`Cookie, Origin: ${ORIGIN}`, withOrigin.status);
}

step("8. GET /admin/get-user?id=… with the user's own Bearer session token");
const gu = await request("GET", `${BASE}/admin/get-user?id=${encodeURIComponent(userId)}`, {
  headers: { authorization: `Bearer ${user.bearer}` },
});
expect(gu.status === 200 && gu.data.id === userId && gu.data.role === "user,admin", "get-user as user,admin", gu);
show("get-user", gu.data);
const guRaw = await request("GET", `${BASE}/admin/get-user?id=${encodeURIComponent(userId)}`, {
  headers: { authorization: `Bearer ${user.rawToken}` },
});
show("get-user with unsigned body.token as Bearer", guRaw.status);

step("9. new id_token after role change carries role/organization_id/permissions");
const a4 = await authorizeCode(user.cookie);
const t4 = await token({ grant_type: "authorization_code", code: a4.code, redirect_uri: REDIRECT_URI, code_verifier: a4.verifier });
expect(t4.status === 200, "token", t4);
const id4 = verifyJwt(t4.data.id_token, "id_token (user,admin)");
expect(id4.payload.role === "user,admin" && id4.payload.organization_id === "org_123" && id4.payload.permissions?.length === 2, "claims after role change");
const t4r = await token({ grant_type: "refresh_token", refresh_token: t4.data.refresh_token, resource: RESOURCE });
show("refresh with resource (not on original grant)", `${t4r.status} ${t4r.status === 200 ? "JWT=" + (t4r.data.access_token.split(".").length === 3) : t4r.text}`);

step("9b. userinfo (GET /oauth2/userinfo, Authorization: Bearer <access_token>)");
const ui = await request("GET", `${BASE}/oauth2/userinfo`, { headers: { authorization: `Bearer ${t4.data.access_token}` } });
expect(ui.status === 200 && ui.data.sub === userId, "userinfo", ui);
show("userinfo", ui.data);

step("10. jwt plugin: GET /token with Bearer session token");
const jt = await request("GET", `${BASE}/token`, { headers: { authorization: `Bearer ${user.bearer}` } });
expect(jt.status === 200 && jt.data.token, "/token", jt);
console.log(`session jwt=${jt.data.token}`);
verifyJwt(jt.data.token, "jwt-plugin token");
const gs = await request("GET", `${BASE}/get-session`, { headers: { cookie: user.cookie } });
expect(gs.status === 200 && gs.headers["set-auth-jwt"], "get-session returns set-auth-jwt", gs);
show("get-session set-auth-jwt is a JWT", gs.headers["set-auth-jwt"].split(".").length === 3);

step("11. client_credentials grant");
const cc = await token({ grant_type: "client_credentials" });
expect(cc.status === 200 && cc.data.access_token, "client_credentials", cc);
show("client_credentials (no resource)", cc.data);
const ccScoped = await token({ grant_type: "client_credentials", scope: "api:read" });
expect(ccScoped.status === 200 && ccScoped.data.scope === "api:read", "client_credentials scope=api:read", ccScoped);
const ccOpenid = await token({ grant_type: "client_credentials", scope: "openid" });
show("client_credentials scope=openid", `${ccOpenid.status} ${ccOpenid.text}`);
const ccr = await token({ grant_type: "client_credentials", resource: RESOURCE });
expect(ccr.status === 200, "client_credentials with resource", ccr);
console.log(`m2m jwt access_token=${ccr.data.access_token}`);
verifyJwt(ccr.data.access_token, "client_credentials access_token (JWT)");

step("12. introspection (POST /oauth2/introspect, form, client_secret_basic)");
const introspect = (tok, hint) => request("POST", `${BASE}/oauth2/introspect`, {
  headers: { authorization: BASIC }, form: hint ? { token: tok, token_type_hint: hint } : { token: tok },
});
const i1 = await introspect(t2.data.access_token, "access_token");
expect(i1.status === 200 && i1.data.active === true, "introspect opaque access token", i1);
show("opaque access token", i1.data);
const i2 = await introspect(t3.data.access_token);
expect(i2.status === 200 && i2.data.active === true, "introspect JWT access token", i2);
show("JWT access token", i2.data);
const i3 = await introspect(t2.data.refresh_token, "refresh_token");
expect(i3.status === 200 && i3.data.active === true, "introspect refresh token", i3);
show("refresh token", i3.data);
const i4 = await introspect(cc.data.access_token);
show("client_credentials opaque token", i4.data);
const i5 = await introspect(t1.data.id_token);
show("id_token", i5.data);

step("13. revocation (POST /oauth2/revoke, form, client_secret_basic)");
const revoke = (tok, hint) => request("POST", `${BASE}/oauth2/revoke`, {
  headers: { authorization: BASIC }, form: hint ? { token: tok, token_type_hint: hint } : { token: tok },
});
const r1 = await revoke(t2.data.access_token, "access_token");
expect(r1.status === 200, "revoke access token", r1);
const i1b = await introspect(t2.data.access_token, "access_token");
expect(i1b.data.active === false, "revoked access token must be inactive", i1b);
show("revoked access token → introspect", i1b.data);
const r2 = await revoke(t2.data.refresh_token, "refresh_token");
expect(r2.status === 200, "revoke refresh token", r2);
const i3b = await introspect(t2.data.refresh_token, "refresh_token");
show("revoked refresh token → introspect", i3b.data);
const useRevoked = await token({ grant_type: "refresh_token", refresh_token: t2.data.refresh_token });
show("refresh with revoked refresh token", `${useRevoked.status} ${useRevoked.text}`);
const r3 = await revoke(t3.data.access_token);
show("revoke JWT access token", `${r3.status} ${r3.text}`);
const i2b = await introspect(t3.data.access_token);
show("JWT access token after revoke → introspect", i2b.data);

step("14. re-using a rotated refresh token kills the whole refresh family (client+user)");
const a5 = await authorizeCode(user.cookie);
const t5 = await token({ grant_type: "authorization_code", code: a5.code, redirect_uri: REDIRECT_URI, code_verifier: a5.verifier });
const t5r = await token({ grant_type: "refresh_token", refresh_token: t5.data.refresh_token });
expect(t5r.status === 200, "refresh", t5r);
const reuse = await token({ grant_type: "refresh_token", refresh_token: t5.data.refresh_token });
expect(reuse.status === 400, "re-using a rotated refresh token must fail", reuse);
show("old refresh token reuse", `${reuse.status} ${reuse.text}`);
const fam = await token({ grant_type: "refresh_token", refresh_token: t5r.data.refresh_token });
show("newest refresh token after the reuse", `${fam.status} ${fam.text}`);

console.log("\nFLOW OK");
