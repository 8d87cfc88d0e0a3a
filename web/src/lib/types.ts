// Shapes shared by the server and the browser.

/** A task as the Rust API returns it. */
export interface Task {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  done: boolean;
  created_at: string;
  updated_at: string;
}

/** `GET /api/me`. */
export interface Me {
  id: string;
  email: string | null;
  name: string | null;
  role: string;
  roles: string[];
  email_verified: boolean;
  organization_id: string | null;
  permissions: string[];
}

/** `GET /api/admin/users/{id}`. */
export interface AdminUserView {
  user_id: string;
  task_count: number;
  sso_profile: Record<string, unknown> | null;
}

/** An API call's outcome, with the failure kinds the pages show screens for. */
export type ApiResult<T> =
  | { ok: true; data: T; nextCursor?: string }
  | { ok: false; status: number; kind: "signed-out" | "forbidden" | "unavailable" | "error"; retryAfter?: number; detail?: string };

export type Failure = Extract<ApiResult<unknown>, { ok: false }>;

/** `detail` of the failure when the Rust API itself cannot be reached (not the SSO). */
export const API_UNREACHABLE = "the API cannot be reached";
