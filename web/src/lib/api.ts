// Server-side calls to the Rust API, forwarding `Authorization: Bearer <id_token>` (the seed's
// first calling style). Used by server components, server actions and route handlers.
import "server-only";
import { config } from "./config";
import { currentAuth } from "./auth";
import { API_UNREACHABLE, type ApiResult } from "./types";
import { toResult } from "./result";

/** Calls the API as the signed-in user. `canWrite`: may refresh and set cookies (not in pages). */
export async function callApi<T>(
  path: string,
  init: { method?: string; body?: unknown; canWrite?: boolean } = {},
): Promise<ApiResult<T>> {
  const auth = await currentAuth(init.canWrite ?? false);
  if (auth.kind === "signed-out") return { ok: false, status: 401, kind: "signed-out" };
  if (auth.kind === "unavailable") return { ok: false, status: 503, kind: "unavailable", retryAfter: 2 };
  let response: Response;
  try {
    response = await fetch(`${config.apiInternalUrl}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${auth.idToken}`,
        accept: "application/json",
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      cache: "no-store",
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    return { ok: false, status: 503, kind: "unavailable", retryAfter: 2, detail: API_UNREACHABLE };
  }
  return toResult<T>(response);
}
