// Turns an API response into an `ApiResult` (shared by the server and the browser).
import type { ApiResult } from "./types";

export async function toResult<T>(response: Response): Promise<ApiResult<T>> {
  if (response.ok) {
    const data = response.status === 204 ? (undefined as T) : ((await response.json()) as T);
    return { ok: true, data, nextCursor: response.headers.get("x-next-cursor") ?? undefined };
  }
  const body = (await response.json().catch(() => ({}))) as { detail?: unknown };
  const detail = typeof body.detail === "string" ? body.detail : undefined;
  if (response.status === 401) return { ok: false, status: 401, kind: "signed-out", detail };
  if (response.status === 403) return { ok: false, status: 403, kind: "forbidden", detail };
  if (response.status === 503) {
    const retryAfter = Number(response.headers.get("retry-after")) || 2;
    return { ok: false, status: 503, kind: "unavailable", retryAfter, detail };
  }
  return { ok: false, status: response.status, kind: "error", detail: detail ?? `HTTP ${response.status}` };
}
