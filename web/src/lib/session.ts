// Where the tokens live: httpOnly, SameSite=Lax cookies (Secure on https), never localStorage.
// The id_token cookie is named by AUTH_COOKIE_NAME so the Rust API can read the same cookie when
// the browser calls it directly (the client-side ApiClient).
import "server-only";
import { config, secureCookies } from "./config";
import type { TokenSet } from "./oidc";

export const REFRESH_COOKIE = "refresh_token";
export const TX_COOKIE = "oauth_tx";

/** Anything with Next's cookie-setting shape: `cookies()` in actions and route handlers, or a
 * `NextResponse`'s / `NextRequest`'s cookies in the proxy. */
export interface CookieWriter {
  set(name: string, value: string, options?: Record<string, unknown>): unknown;
  delete(name: string): unknown;
}

const base = { httpOnly: true, sameSite: "lax" as const, secure: secureCookies, path: "/" };

/** Cookie options for a token; the refresh token outlives the id_token so an expired id_token can
 * still be refreshed. */
export const cookieOptions = (maxAge: number) => ({ ...base, maxAge });

export function writeTokens(store: CookieWriter, tokens: TokenSet): void {
  const idMaxAge = Math.max(1, tokens.expiresAt - Math.floor(Date.now() / 1000));
  store.set(config.idCookie, tokens.idToken, cookieOptions(idMaxAge));
  if (tokens.refreshToken) store.set(REFRESH_COOKIE, tokens.refreshToken, cookieOptions(30 * 24 * 3600));
}

export function clearTokens(store: CookieWriter): void {
  for (const name of [config.idCookie, REFRESH_COOKIE, TX_COOKIE]) {
    store.set(name, "", { ...base, maxAge: 0 });
  }
}

/** Should this id_token be refreshed now? When it has less than REFRESH_MARGIN_SECONDS left,
 * capped at half its lifetime. */
export function needsRefresh(expiresAt: number | undefined, lifetime: number | undefined): boolean {
  if (!expiresAt) return true;
  const margin = Math.min(config.refreshMarginSeconds, (lifetime ?? 3600) / 2);
  return expiresAt - Date.now() / 1000 < margin;
}
