"use server";
// Server actions for the tasks page (the seed's first calling style): each forwards
// `Authorization: Bearer <id_token>` to the Rust API, refreshing the token first if it is about
// to expire.
import { callApi } from "@/lib/api";
import { config } from "@/lib/config";
import type { Task } from "@/lib/types";

export async function listTasks(cursor?: string) {
  const query = new URLSearchParams({ limit: String(config.pageSize) });
  if (cursor) query.set("cursor", cursor);
  return callApi<Task[]>(`/api/tasks?${query}`, { canWrite: true });
}

export async function createTask(title: string, description: string) {
  return callApi<Task>("/api/tasks", { method: "POST", body: { title, description: description || null }, canWrite: true });
}

export async function updateTask(id: string, patch: { title?: string; done?: boolean }) {
  return callApi<Task>(`/api/tasks/${encodeURIComponent(id)}`, { method: "PATCH", body: patch, canWrite: true });
}

export async function deleteTask(id: string) {
  return callApi<void>(`/api/tasks/${encodeURIComponent(id)}`, { method: "DELETE", canWrite: true });
}
