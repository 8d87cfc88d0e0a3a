// The web app's settings, read from the environment at run time (never baked in at build time,
// so one `next build` serves every stack: the e2e suite starts it on free ports).
import "server-only";

function env(name: string, fallback: string): string {
  const value = process.env[name]?.trim();
  return value ? value : fallback;
}

/** How the tasks page talks to the Rust API. */
export type CallingStyle = "server" | "client";

export const config = {
  /** `APP_URL`: this app's public origin; the OAuth redirect URI is `<APP_URL>/auth/callback`. */
  appUrl: env("APP_URL", "http://localhost:3000").replace(/\/+$/, ""),
  /** `AUTH_SERVER_URL`: the SSO's origin (Better Auth at `<origin>/api/auth`), or its issuer. */
  authServerUrl: env("AUTH_SERVER_URL", "http://127.0.0.1:3001").replace(/\/+$/, ""),
  /** `SSO_ISSUER`: the exact issuer; default `<AUTH_SERVER_URL>/api/auth` (Better Auth's). */
  issuer: process.env.SSO_ISSUER?.trim() || undefined,
  /** `SSO_CLIENT_ID` / `SSO_CLIENT_SECRET`: this app's OAuth client (client_secret_basic). */
  clientId: env("SSO_CLIENT_ID", "rust-backend"),
  clientSecret: env("SSO_CLIENT_SECRET", "rust-backend-secret"),
  /** `API_URL`: the Rust API as the browser sees it (the client-side ApiClient calls it). */
  apiUrl: env("API_URL", "http://localhost:8000").replace(/\/+$/, ""),
  /** `API_INTERNAL_URL`: the Rust API as this server sees it; default `API_URL`. */
  apiInternalUrl: env("API_INTERNAL_URL", env("API_URL", "http://localhost:8000")).replace(/\/+$/, ""),
  /** `AUTH_COOKIE_NAME`: the id_token cookie; the API must read the same name. */
  idCookie: env("AUTH_COOKIE_NAME", "id_token"),
  /** `CALLING_STYLE`: `server` (server actions forward the Bearer token) or `client`. */
  callingStyle: (env("CALLING_STYLE", "server") === "client" ? "client" : "server") as CallingStyle,
  /** `TASKS_PAGE_SIZE`: tasks per page. */
  pageSize: Math.min(100, Math.max(1, Number(env("TASKS_PAGE_SIZE", "10")) || 10)),
  /** `REFRESH_MARGIN_SECONDS`: refresh the id_token when it has less than this left (capped at
   * half its lifetime, so a short-lived test token is not refreshed on every request). */
  refreshMarginSeconds: Number(env("REFRESH_MARGIN_SECONDS", "60")) || 60,
  /** `SSO_TIMEOUT_MS`: longest wait for the SSO before "auth server unavailable". */
  ssoTimeoutMs: Number(env("SSO_TIMEOUT_MS", "5000")) || 5000,
};

/** Cookies are `Secure` when the app is served over https. */
export const secureCookies = config.appUrl.startsWith("https://");
