// /profile: what the Rust API's `GET /api/me` says about the signed-in user.
import { callApi } from "@/lib/api";
import type { Me } from "@/lib/types";
import { FailureScreen } from "@/components/Status";

export const dynamic = "force-dynamic";

export default async function ProfilePage() {
  const me = await callApi<Me>("/api/me");
  if (!me.ok) return <FailureScreen failure={me} />;
  const u = me.data;
  return (
    <>
      <h1>Profile</h1>
      <section className="card" aria-label="What the API knows about you">
        <dl>
          <dt>Name</dt>
          <dd>{u.name ?? "—"}</dd>
          <dt>Email</dt>
          <dd>{u.email ?? "—"}{u.email_verified ? " (verified)" : ""}</dd>
          <dt>User id</dt>
          <dd>{u.id}</dd>
          <dt>Roles</dt>
          <dd>{u.roles.join(", ")}</dd>
          {u.organization_id ? (
            <>
              <dt>Organization</dt>
              <dd>{u.organization_id}</dd>
            </>
          ) : null}
          {u.permissions.length ? (
            <>
              <dt>Permissions</dt>
              <dd>{u.permissions.join(", ")}</dd>
            </>
          ) : null}
        </dl>
      </section>
    </>
  );
}
