"use client";
// Look up a user by id: their task count and SSO profile; delete their tasks.
import { useState } from "react";
import type { AdminUserView, Failure } from "@/lib/types";
import { FailureScreen } from "@/components/Status";
import { deleteUserTasks, lookUpUser } from "./actions";

export function AdminPanel() {
  const [userId, setUserId] = useState("");
  const [view, setView] = useState<AdminUserView | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);

  const lookUp = async (event?: React.FormEvent) => {
    event?.preventDefault();
    if (!userId.trim()) return;
    setBusy(true);
    const result = await lookUpUser(userId.trim());
    setBusy(false);
    if (result.ok) {
      setView(result.data);
      setFailure(null);
    } else setFailure(result);
  };

  const remove = async () => {
    if (!view) return;
    setBusy(true);
    const result = await deleteUserTasks(view.user_id);
    setBusy(false);
    if (!result.ok) return setFailure(result);
    setMessage(`Deleted ${result.data.deleted_tasks} task(s).`);
    setView({ ...view, task_count: 0 });
  };

  if (failure && failure.kind !== "error") return <FailureScreen failure={failure} onRetry={() => void lookUp()} />;
  const profile = view?.sso_profile;
  return (
    <>
      <form className="card row" onSubmit={lookUp}>
        <div>
          <label htmlFor="user-id">User id</label>
          <input id="user-id" type="search" value={userId} onChange={(e) => setUserId(e.target.value)} />
        </div>
        <button type="submit" disabled={busy}>Look up</button>
      </form>
      {failure ? <p role="alert">{failure.detail}</p> : null}
      {view ? (
        <section className="card" aria-labelledby="user-title">
          <h2 id="user-title">User {view.user_id}</h2>
          <dl>
            <dt>Tasks</dt>
            <dd data-testid="task-count">{view.task_count}</dd>
            <dt>Name</dt>
            <dd>{typeof profile?.name === "string" ? profile.name : "—"}</dd>
            <dt>Email</dt>
            <dd>{typeof profile?.email === "string" ? profile.email : "—"}</dd>
            <dt>SSO role</dt>
            <dd>{typeof profile?.role === "string" ? profile.role : "—"}</dd>
          </dl>
          {profile ? null : <p className="muted">No SSO profile (the API has no SSO admin key, or the SSO does not know this id).</p>}
          <button type="button" className="danger" disabled={busy} onClick={() => void remove()}>
            Delete this user&apos;s tasks
          </button>
          <p role="status">{message}</p>
        </section>
      ) : null}
    </>
  );
}
