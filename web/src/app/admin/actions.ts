"use server";
// Admin actions: the Rust API decides (role `admin`, 403 otherwise); the Bearer id_token is
// forwarded as for every server call.
import { callApi } from "@/lib/api";
import type { AdminUserView } from "@/lib/types";

export async function lookUpUser(userId: string) {
  return callApi<AdminUserView>(`/api/admin/users/${encodeURIComponent(userId)}`, { canWrite: true });
}

export async function deleteUserTasks(userId: string) {
  return callApi<{ deleted_tasks: number }>(`/api/admin/users/${encodeURIComponent(userId)}`, { method: "DELETE", canWrite: true });
}
