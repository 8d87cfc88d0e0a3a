"use client";
// The tasks list: newest first, paged ("Load more"), create, edit, toggle, delete, empty state.
// The same component serves both calling styles: `actions` are server actions (Bearer token
// forwarded by the Next.js server), or the ApiClient calls the Rust API from the browser.
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiClient } from "@/lib/apiClient";
import type { ApiResult, Failure, Task } from "@/lib/types";
import { FailureScreen } from "@/components/Status";

type Patch = { title?: string; done?: boolean };
export interface TaskActions {
  list(cursor?: string): Promise<ApiResult<Task[]>>;
  create(title: string, description: string): Promise<ApiResult<Task>>;
  update(id: string, patch: Patch): Promise<ApiResult<Task>>;
  remove(id: string): Promise<ApiResult<void>>;
}

function browserActions(apiUrl: string, pageSize: number): TaskActions {
  const api = new ApiClient(apiUrl);
  return {
    list: (cursor) => {
      const q = new URLSearchParams({ limit: String(pageSize) });
      if (cursor) q.set("cursor", cursor);
      return api.request<Task[]>(`/api/tasks?${q}`);
    },
    create: (title, description) =>
      api.request<Task>("/api/tasks", { method: "POST", body: { title, description: description || null } }),
    update: (id, patch) => api.request<Task>(`/api/tasks/${encodeURIComponent(id)}`, { method: "PATCH", body: patch }),
    remove: (id) => api.request<void>(`/api/tasks/${encodeURIComponent(id)}`, { method: "DELETE" }),
  };
}

export function TasksBoard(props: {
  style: "server" | "client";
  apiUrl: string;
  pageSize: number;
  serverActions?: TaskActions;
  initial?: { tasks: Task[]; nextCursor?: string };
}) {
  const actions = useMemo(
    () => props.serverActions ?? browserActions(props.apiUrl, props.pageSize),
    [props.serverActions, props.apiUrl, props.pageSize],
  );
  const [tasks, setTasks] = useState<Task[] | null>(props.initial?.tasks ?? null);
  const [nextCursor, setNextCursor] = useState<string | undefined>(props.initial?.nextCursor);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [editing, setEditing] = useState<{ id: string; title: string } | null>(null);

  // A failure of the session kind replaces the page; a validation error is shown inline.
  const handle = useCallback(<T,>(result: ApiResult<T>): T | undefined => {
    if (result.ok) {
      setFailure(null);
      return result.data;
    }
    if (result.kind === "error") setError(result.detail ?? "Something went wrong");
    else setFailure(result);
    return undefined;
  }, []);

  const reload = useCallback(async () => {
    const result = await actions.list();
    const data = handle(result);
    if (data) {
      setTasks(data);
      setNextCursor(result.ok ? result.nextCursor : undefined);
    }
  }, [actions, handle]);

  useEffect(() => {
    if (tasks === null) void reload();
  }, [tasks, reload]);

  async function run(step: () => Promise<void>) {
    setBusy(true);
    setError("");
    try {
      await step();
    } finally {
      setBusy(false);
    }
  }

  const add = (event: React.FormEvent) => {
    event.preventDefault();
    if (!title.trim()) {
      setError("A task needs a title.");
      return;
    }
    void run(async () => {
      const created = handle(await actions.create(title.trim(), description.trim()));
      if (created) {
        setTasks((list) => [created, ...(list ?? [])]);
        setTitle("");
        setDescription("");
      }
    });
  };

  const replace = (task: Task) => setTasks((list) => (list ?? []).map((t) => (t.id === task.id ? task : t)));

  const toggle = (task: Task) =>
    run(async () => {
      const updated = handle(await actions.update(task.id, { done: !task.done }));
      if (updated) replace(updated);
    });

  const save = (event: React.FormEvent) => {
    event.preventDefault();
    if (!editing) return;
    void run(async () => {
      const updated = handle(await actions.update(editing.id, { title: editing.title.trim() }));
      if (updated) {
        replace(updated);
        setEditing(null);
      }
    });
  };

  const remove = (task: Task) =>
    run(async () => {
      const result = await actions.remove(task.id);
      if (result.ok) setTasks((list) => (list ?? []).filter((t) => t.id !== task.id));
      else handle(result);
    });

  const more = () =>
    run(async () => {
      const result = await actions.list(nextCursor);
      const data = handle(result);
      if (data) {
        setTasks((list) => [...(list ?? []), ...data]);
        setNextCursor(result.ok ? result.nextCursor : undefined);
      }
    });

  if (failure) {
    return failure.kind === "unavailable" ? (
      <FailureScreen failure={failure} onRetry={() => void reload()} />
    ) : (
      <FailureScreen failure={failure} />
    );
  }

  return (
    <>
      <h1>Tasks</h1>
      <p className="muted">
        Calling style: {props.style === "server" ? "server actions (Bearer id_token)" : "browser ApiClient (cookie, CORS)"}
      </p>
      <form className="card" onSubmit={add} aria-labelledby="new-task">
        <h2 id="new-task">New task</h2>
        <div className="row">
          <div>
            <label htmlFor="task-title">Title</label>
            <input id="task-title" type="text" value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} />
          </div>
          <div>
            <label htmlFor="task-description">Description</label>
            <input id="task-description" type="text" value={description} maxLength={5000} onChange={(e) => setDescription(e.target.value)} />
          </div>
          <button type="submit" disabled={busy}>Add task</button>
        </div>
        <p role="alert">{error}</p>
      </form>
      <section className="card" aria-labelledby="list-title" aria-busy={tasks === null}>
        <h2 id="list-title">Your tasks</h2>
        {tasks === null ? (
          <p role="status">Loading…</p>
        ) : tasks.length === 0 ? (
          <p>No tasks yet. Add your first one above.</p>
        ) : (
          <ul className="tasks">
            {tasks.map((task) => (
              <li key={task.id} className={task.done ? "done" : undefined}>
                <input
                  type="checkbox"
                  checked={task.done}
                  disabled={busy}
                  onChange={() => void toggle(task)}
                  aria-label={`Done: ${task.title}`}
                />
                {editing?.id === task.id ? (
                  <form className="row" onSubmit={save} style={{ flex: 1 }}>
                    <div>
                      <label htmlFor={`edit-${task.id}`} className="visually-hidden">
                        New title for {task.title}
                      </label>
                      <input
                        id={`edit-${task.id}`}
                        type="text"
                        autoFocus
                        value={editing.title}
                        maxLength={200}
                        onChange={(e) => setEditing({ id: task.id, title: e.target.value })}
                      />
                    </div>
                    <button type="submit" disabled={busy}>Save</button>
                    <button type="button" className="secondary" onClick={() => setEditing(null)}>Cancel</button>
                  </form>
                ) : (
                  <>
                    <span className="title">
                      {task.title}
                      {task.description ? <span className="muted"> — {task.description}</span> : null}
                    </span>
                    <button type="button" className="secondary" onClick={() => setEditing({ id: task.id, title: task.title })} aria-label={`Edit ${task.title}`}>
                      Edit
                    </button>
                    <button type="button" className="danger" disabled={busy} onClick={() => void remove(task)} aria-label={`Delete ${task.title}`}>
                      Delete
                    </button>
                  </>
                )}
              </li>
            ))}
          </ul>
        )}
        {nextCursor ? (
          <p>
            <button type="button" className="secondary" disabled={busy} onClick={() => void more()}>Load more</button>
          </p>
        ) : null}
      </section>
    </>
  );
}
