// POST /auth/logout: revokes the refresh token, clears every token cookie and ends the SSO
// session through its end_session_endpoint (RP-initiated logout), which comes back to
// /signed-out. A POST (from a form), so another site cannot sign the user out with a link.
import { NextResponse, type NextRequest } from "next/server";
import { config } from "@/lib/config";
import { endSessionUrl, revoke } from "@/lib/oidc";
import { REFRESH_COOKIE, clearTokens } from "@/lib/session";

export const dynamic = "force-dynamic";

export async function POST(request: NextRequest) {
  const origin = request.headers.get("origin");
  if (origin && origin !== config.appUrl) return new NextResponse("cross-site sign-out refused", { status: 403 });
  const idToken = request.cookies.get(config.idCookie)?.value;
  const refreshToken = request.cookies.get(REFRESH_COOKIE)?.value;
  if (refreshToken) await revoke(refreshToken);
  const signedOut = `${config.appUrl}/signed-out`;
  const target = (await endSessionUrl(idToken, signedOut)) ?? new URL(signedOut);
  // 303: the browser follows with a GET.
  const response = NextResponse.redirect(target, 303);
  clearTokens(response.cookies);
  return response;
}
