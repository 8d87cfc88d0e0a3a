// Runs before every page and server action: refreshes the id_token shortly before it expires
// (the user never notices), so server components always read a current token. When the SSO is
// down and the token has run out, the page is told so (it shows "auth server unavailable,
// retrying"); when the SSO refuses the refresh token, the cookies are cleared (signed out).
import { NextResponse, type NextRequest } from "next/server";
import { config as appConfig } from "@/lib/config";
import { UNAVAILABLE_HEADER } from "@/lib/auth";
import { GrantRefused, peekClaims, refresh, type TokenSet } from "@/lib/oidc";
import { REFRESH_COOKIE, clearTokens, needsRefresh, writeTokens } from "@/lib/session";

export async function proxy(request: NextRequest) {
  request.headers.delete(UNAVAILABLE_HEADER);
  const idToken = request.cookies.get(appConfig.idCookie)?.value;
  const refreshToken = request.cookies.get(REFRESH_COOKIE)?.value;
  const claims = idToken ? peekClaims(idToken) : undefined;
  const exp = typeof claims?.exp === "number" ? claims.exp : undefined;
  const iat = typeof claims?.iat === "number" ? claims.iat : undefined;
  if (!refreshToken || !needsRefresh(exp, exp && iat ? exp - iat : undefined)) return NextResponse.next();

  let tokens: TokenSet | undefined;
  let refused = false;
  try {
    tokens = await refresh(refreshToken);
  } catch (e) {
    if (e instanceof GrantRefused) refused = true;
    else request.headers.set(UNAVAILABLE_HEADER, "1");
  }
  // The page must see the new cookies in this very request, and the browser keep them.
  const forRequest = { set: (name: string, value: string) => request.cookies.set(name, value), delete: (name: string) => request.cookies.delete(name) };
  if (tokens) writeTokens(forRequest, tokens);
  if (refused) clearTokens(forRequest);
  const response = NextResponse.next({ request: { headers: request.headers } });
  if (tokens) writeTokens(response.cookies, tokens);
  if (refused) clearTokens(response.cookies);
  return response;
}

export const config = {
  matcher: ["/((?!auth/|_next/|favicon.ico|signed-out).*)"],
};
