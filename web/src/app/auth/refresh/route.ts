// POST /auth/refresh: the client-side ApiClient calls this after a 401 from the Rust API, then
// retries once. Same-origin only (JSON body required, Origin checked).
import { NextResponse, type NextRequest } from "next/server";
import { config } from "@/lib/config";
import { currentAuth } from "@/lib/auth";

export const dynamic = "force-dynamic";

export async function POST(request: NextRequest) {
  if (request.headers.get("origin") !== config.appUrl) return new NextResponse(null, { status: 403 });
  const auth = await currentAuth(true, true);
  if (auth.kind === "ok") return NextResponse.json({ ok: true });
  if (auth.kind === "unavailable") return NextResponse.json({ ok: false }, { status: 503, headers: { "retry-after": "2" } });
  return NextResponse.json({ ok: false }, { status: 401 });
}
