// The signed-in state as the server sees it, for pages, server actions and route handlers.
import "server-only";
import { cookies, headers } from "next/headers";
import { config } from "./config";
import { GrantRefused, SsoUnavailable, peekClaims, refresh } from "./oidc";
import { REFRESH_COOKIE, clearTokens, needsRefresh, writeTokens } from "./session";

export type Auth =
  | { kind: "ok"; idToken: string; claims: Record<string, unknown> }
  | { kind: "signed-out" }
  | { kind: "unavailable" };

/** Header the proxy sets (on the request only) when a needed refresh found the SSO down. */
export const UNAVAILABLE_HEADER = "x-ssoguard-auth-unavailable";

/**
 * The current id_token. `canWrite` (server actions, route handlers) refreshes it here when it is
 * about to expire; pages rely on the proxy, which already did.
 */
export async function currentAuth(canWrite: boolean, force = false): Promise<Auth> {
  const store = await cookies();
  let idToken = store.get(config.idCookie)?.value;
  const refreshToken = store.get(REFRESH_COOKIE)?.value;
  let claims = idToken ? peekClaims(idToken) : undefined;
  const exp = typeof claims?.exp === "number" ? claims.exp : undefined;
  const iat = typeof claims?.iat === "number" ? claims.iat : undefined;
  const expired = !exp || exp <= Date.now() / 1000;
  if (!canWrite && (await headers()).get(UNAVAILABLE_HEADER) && expired) return { kind: "unavailable" };
  if (canWrite && refreshToken && (force || needsRefresh(exp, exp && iat ? exp - iat : undefined))) {
    try {
      const tokens = await refresh(refreshToken);
      writeTokens(store, tokens);
      idToken = tokens.idToken;
      claims = peekClaims(idToken);
    } catch (e) {
      if (e instanceof GrantRefused) {
        clearTokens(store);
        return { kind: "signed-out" };
      }
      // The SSO is down: the current token is still good until it expires.
      if (!(e instanceof SsoUnavailable) || expired) return { kind: "unavailable" };
    }
  }
  if (!idToken || !claims) return { kind: "signed-out" };
  return { kind: "ok", idToken, claims };
}
