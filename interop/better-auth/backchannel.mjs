// A browser login for the back-channel logout tests (crates/ssoguard-gateway/tests/backchannel_logout_better_auth.rs;
// the server runs with BA_BACKCHANNEL_LOGOUT_URI, see server.mjs):
//
//   node backchannel.mjs login <origin> <email> <password> [client_id] [client_secret] [redirect_uri]
//     Signs the user in through the authorization code flow with PKCE (a new session) and
//     prints one JSON line: {"id_token", "access_token", "refresh_token", "cookie"}.
//
// Raw node:http, as flow.mjs does (fetch adds `sec-fetch-mode`, which changes Better Auth's answers).
import { request } from "./http.mjs";
import crypto from "node:crypto";

const [command, ...args] = process.argv.slice(2);

const fail = (message, res) => {
  console.error(`backchannel.mjs: ${message}${res ? ` (${res.status} ${res.text})` : ""}`);
  process.exit(1);
};

if (command === "login") {
  const [origin, email, password, clientId = "rust-backend", clientSecret = "rust-backend-secret", redirectUri = "http://localhost:8976/callback"] = args;
  const base = `${origin}/api/auth`;
  const verifier = crypto.randomBytes(32).toString("base64url");
  const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: "openid profile email offline_access",
    state: crypto.randomBytes(12).toString("base64url"),
    nonce: crypto.randomBytes(12).toString("base64url"),
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const authorize = await request("GET", `${base}/oauth2/authorize?${query}`);
  const location = authorize.headers.location || "";
  const loginPage = `${origin}/login?`;
  if (authorize.status !== 302 || !location.startsWith(loginPage)) fail("authorize did not redirect to the login page", authorize);
  const signIn = await request("POST", `${base}/sign-in/email`, {
    headers: { origin },
    json: { email, password, oauth_query: location.slice(loginPage.length) },
  });
  if (signIn.status !== 200 || !signIn.data?.url) fail("sign-in with oauth_query", signIn);
  const cookie = (signIn.headers["set-cookie"] || []).map((c) => c.split(";")[0]).find((c) => c.startsWith("better-auth.session_token=") && !c.endsWith("="));
  const code = new URL(signIn.data.url).searchParams.get("code");
  if (!code || !cookie) fail("no code or no session cookie", signIn);
  const basic = "Basic " + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");
  const token = await request("POST", `${base}/oauth2/token`, {
    headers: { authorization: basic },
    form: { grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier },
  });
  if (token.status !== 200 || !token.data?.id_token) fail("token exchange", token);
  console.log(JSON.stringify({
    id_token: token.data.id_token,
    access_token: token.data.access_token,
    refresh_token: token.data.refresh_token ?? null,
    cookie,
  }));
} else {
  fail("usage: backchannel.mjs login <origin> <email> <password> [client_id] [client_secret] [redirect_uri]");
}
