// /tasks: the signed-in user's tasks. `?style=server|client` picks the calling style for this
// page; CALLING_STYLE is the default.
import { callApi } from "@/lib/api";
import { currentAuth } from "@/lib/auth";
import { config } from "@/lib/config";
import type { Task } from "@/lib/types";
import { FailureScreen, SignedOut, Unavailable } from "@/components/Status";
import { TasksBoard } from "./TasksBoard";
import { createTask, deleteTask, listTasks, updateTask } from "./actions";

export const dynamic = "force-dynamic";

export default async function TasksPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const { style: requested } = await searchParams;
  const style = requested === "client" || requested === "server" ? requested : config.callingStyle;
  const auth = await currentAuth(false);
  if (auth.kind === "signed-out") return <SignedOut />;
  if (auth.kind === "unavailable") return <Unavailable />;
  if (style === "client") {
    return <TasksBoard key="client" style="client" apiUrl={config.apiUrl} pageSize={config.pageSize} />;
  }
  const first = await callApi<Task[]>(`/api/tasks?limit=${config.pageSize}`);
  if (!first.ok) return <FailureScreen failure={first} />;
  return (
    <TasksBoard
      key="server"
      style="server"
      apiUrl={config.apiUrl}
      pageSize={config.pageSize}
      initial={{ tasks: first.data, nextCursor: first.nextCursor }}
      serverActions={{ list: listTasks, create: createTask, update: updateTask, remove: deleteTask }}
    />
  );
}
