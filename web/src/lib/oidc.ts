// OpenID Connect against the Better Auth SSO, with oauth4webapi: discovery (issuer checked),
// authorization code + PKCE S256 with state and nonce, the code exchange (id_token claims, nonce,
// `iss` response parameter checked), refresh with single-flight, revocation and the
// end-session URL. Every SSO call is bounded by SSO_TIMEOUT_MS; a network error, a timeout or a
// 5xx becomes `SsoUnavailable`, which the pages show as "auth server unavailable, retrying".
import "server-only";
import * as oauth from "oauth4webapi";
import { config } from "./config";

/** The SSO did not answer (down, slow, 5xx). */
export class SsoUnavailable extends Error {
  constructor(cause: unknown) {
    super("auth server unavailable", { cause });
  }
}

/** The SSO refused the grant (revoked or rotated refresh token, bad code): sign in again. */
export class GrantRefused extends Error {}

/** The tokens the app keeps, in httpOnly cookies. */
export interface TokenSet {
  idToken: string;
  refreshToken?: string;
  /** id_token expiry, unix seconds. */
  expiresAt: number;
  /** id_token lifetime in seconds (exp - iat). */
  lifetime: number;
}

const client: oauth.Client = { client_id: config.clientId };
const clientAuth = oauth.ClientSecretBasic(config.clientSecret);
const insecure = config.authServerUrl.startsWith("http://");
const requestOptions = (timeoutMs = config.ssoTimeoutMs) => ({
  [oauth.allowInsecureRequests]: insecure,
  signal: AbortSignal.timeout(timeoutMs),
});
// A refresh rotates the refresh token. One that timed out on our side may still be carried out
// by the SSO later (a stalled server catching up), after which our retry with the old token
// looks like reuse and revokes the whole family. So a refresh is only sent once a cheap GET has
// shown the SSO answering, and then gets a generous timeout.
const REFRESH_TIMEOUT_MS = 15_000;
// A code exchange that times out loses the (single-use) code: give it as long.
const EXCHANGE_TIMEOUT_MS = REFRESH_TIMEOUT_MS;

export const redirectUri = `${config.appUrl}/auth/callback`;
export const scope = "openid profile email offline_access";

function issuerUrl(): URL {
  return new URL(config.issuer ?? `${config.authServerUrl}/api/auth`);
}

let discovered: oauth.AuthorizationServer | undefined;

/** The SSO's metadata (cached once fetched). */
export async function authorizationServer(): Promise<oauth.AuthorizationServer> {
  if (discovered) return discovered;
  const issuer = issuerUrl();
  discovered = await sso(async () =>
    oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...requestOptions(), algorithm: "oidc" })),
  );
  return discovered;
}

/** Runs an SSO call, turning "could not reach it" into `SsoUnavailable`. */
async function sso<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof oauth.ResponseBodyError) {
      if (e.status >= 500) throw new SsoUnavailable(e);
      throw new GrantRefused(`${e.error}: ${e.error_description ?? ""}`);
    }
    if (e instanceof oauth.WWWAuthenticateChallengeError) throw new GrantRefused(e.message);
    if (e instanceof oauth.OperationProcessingError) {
      // A non-JSON or unexpected answer: a proxy's error page, a server still starting.
      const status = (e.cause as Response | undefined)?.status;
      if (status === undefined || status >= 500) throw new SsoUnavailable(e);
      throw e;
    }
    if (e instanceof TypeError || (e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError"))) {
      throw new SsoUnavailable(e);
    }
    throw e;
  }
}

/** A fresh login transaction: the values kept (httpOnly) until the callback, and the URL to go to. */
export async function startLogin(): Promise<{ url: URL; state: string; nonce: string; verifier: string }> {
  const as = await authorizationServer();
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  }).toString();
  return { url, state, nonce, verifier };
}

function toTokenSet(result: oauth.TokenEndpointResponse, previousRefresh?: string): TokenSet {
  const claims = oauth.getValidatedIdTokenClaims(result);
  if (!result.id_token || !claims) throw new GrantRefused("the SSO sent no id_token");
  return {
    idToken: result.id_token,
    refreshToken: result.refresh_token ?? previousRefresh,
    expiresAt: claims.exp,
    lifetime: Math.max(1, claims.exp - claims.iat),
  };
}

/** The callback: checks `state` (and `iss`), exchanges the code with the PKCE verifier, checks
 * the id_token's issuer, audience, expiry and `nonce`. */
export async function finishLogin(
  callbackUrl: URL,
  tx: { state: string; nonce: string; verifier: string },
): Promise<TokenSet> {
  const as = await authorizationServer();
  // Throws on a state mismatch, an `error` response or a wrong `iss`.
  const params = oauth.validateAuthResponse(as, client, callbackUrl, tx.state);
  return sso(async () => {
    const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, tx.verifier, requestOptions(EXCHANGE_TIMEOUT_MS));
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: tx.nonce,
      requireIdToken: true,
    });
    return toTokenSet(result);
  });
}

// Refresh tokens rotate, and presenting a rotated one revokes the whole family. A page load can
// trigger several refreshes at once (the proxy, a server action, the ApiClient's retry), so one
// refresh per refresh token runs, and its result is reused for a short while.
type Inflight = { promise: Promise<TokenSet>; at: number };
const g = globalThis as unknown as { __ssoguardRefresh?: Map<string, Inflight> };
const inflight = (g.__ssoguardRefresh ??= new Map<string, Inflight>());
const REUSE_MS = 30_000;

/** Exchanges the refresh token for new tokens (one exchange per refresh token). */
export function refresh(refreshToken: string): Promise<TokenSet> {
  const now = Date.now();
  for (const [key, entry] of inflight) if (now - entry.at > REUSE_MS) inflight.delete(key);
  const existing = inflight.get(refreshToken);
  if (existing) return existing.promise;
  const promise = (async () => {
    const as = await authorizationServer();
    await probe();
    return sso(async () => {
      const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, requestOptions(REFRESH_TIMEOUT_MS));
      return toTokenSet(await oauth.processRefreshTokenResponse(as, client, response), refreshToken);
    });
  })();
  inflight.set(refreshToken, { promise, at: now });
  // A failure is not reused: the next request tries again (the SSO may be back).
  promise.catch(() => inflight.delete(refreshToken));
  return promise;
}

/** Throws `SsoUnavailable` unless the SSO answers its discovery document within SSO_TIMEOUT_MS. */
async function probe(): Promise<void> {
  const url = new URL(`${issuerUrl().href.replace(/\/+$/, "")}/.well-known/openid-configuration`);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(config.ssoTimeoutMs), cache: "no-store" });
  } catch (e) {
    throw new SsoUnavailable(e);
  }
  await response.body?.cancel();
  if (!response.ok) throw new SsoUnavailable(new Error(`discovery answered ${response.status}`));
}

/** Revokes the refresh token at the SSO (best effort: sign-out goes on without it). */
export async function revoke(refreshToken: string): Promise<void> {
  try {
    const as = await authorizationServer();
    const response = await oauth.revocationRequest(as, client, clientAuth, refreshToken, requestOptions());
    await oauth.processRevocationResponse(response);
  } catch (e) {
    console.error("refresh token revocation failed:", (e as Error).message);
  }
}

/** The SSO's RP-initiated logout URL for this id_token, or undefined when it has none. */
export async function endSessionUrl(idToken: string | undefined, postLogout: string): Promise<URL | undefined> {
  let as: oauth.AuthorizationServer;
  try {
    as = await authorizationServer();
  } catch {
    return undefined;
  }
  if (!as.end_session_endpoint || !idToken) return undefined;
  const url = new URL(as.end_session_endpoint);
  url.searchParams.set("id_token_hint", idToken);
  url.searchParams.set("client_id", config.clientId);
  url.searchParams.set("post_logout_redirect_uri", postLogout);
  return url;
}

/** The id_token's payload, decoded without verification: only for display and refresh timing
 * (the Rust API verifies the signature on every call). */
export function peekClaims(idToken: string): Record<string, unknown> | undefined {
  try {
    const payload = idToken.split(".")[1];
    return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}
