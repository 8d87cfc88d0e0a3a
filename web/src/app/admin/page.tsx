// /admin: only for role `admin`. The page asks the API (`GET /api/me`) for the caller's roles;
// the admin routes themselves answer 403 to anyone else, which is what decides.
import { callApi } from "@/lib/api";
import type { Me } from "@/lib/types";
import { FailureScreen, NotAllowed } from "@/components/Status";
import { AdminPanel } from "./AdminPanel";

export const dynamic = "force-dynamic";

export default async function AdminPage() {
  const me = await callApi<Me>("/api/me");
  if (!me.ok) return <FailureScreen failure={me} />;
  if (!me.data.roles.includes("admin")) return <NotAllowed />;
  return (
    <>
      <h1>Admin</h1>
      <AdminPanel />
    </>
  );
}
