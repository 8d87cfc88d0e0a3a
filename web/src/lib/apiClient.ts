// The client-side ApiClient (the seed's second calling style): the browser calls the Rust API
// directly with `credentials: 'include'`, so the httpOnly id_token cookie (AUTH_COOKIE_NAME) goes
// along; the API answers with CORS for this app's origin. Bodies are JSON (the API refuses
// cookie-authenticated writes that are not). After a 401 it asks this app to refresh the tokens
// (POST /auth/refresh, same origin) and retries once.
import { toResult } from "./result";
import { API_UNREACHABLE, type ApiResult } from "./types";

export class ApiClient {
  constructor(private readonly baseUrl: string) {}

  async request<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<ApiResult<T>> {
    const send = () =>
      fetch(`${this.baseUrl}${path}`, {
        method: init.method ?? "GET",
        mode: "cors",
        credentials: "include",
        cache: "no-store",
        headers: {
          accept: "application/json",
          // Every write says JSON, body or not (DELETE): the API accepts cookie-authenticated
          // writes only as JSON from an allowed origin.
          ...((init.method ?? "GET") !== "GET" ? { "content-type": "application/json" } : {}),
        },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      });
    try {
      let response = await send();
      if (response.status === 401) {
        const refreshed = await fetch("/auth/refresh", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        if (refreshed.status === 503) return { ok: false, status: 503, kind: "unavailable", retryAfter: 2 };
        if (refreshed.ok) response = await send();
      }
      return await toResult<T>(response);
    } catch {
      // A network error, or the browser's CORS check refused the answer.
      return { ok: false, status: 0, kind: "unavailable", retryAfter: 2, detail: API_UNREACHABLE };
    }
  }
}
