// GET /auth/callback: the SSO's redirect. Checks state (and `iss`), exchanges the code with the
// PKCE verifier, checks the id_token's nonce, keeps the tokens in httpOnly cookies.
import { NextResponse, type NextRequest } from "next/server";
import { config } from "@/lib/config";
import { SsoUnavailable, finishLogin } from "@/lib/oidc";
import { TX_COOKIE, cookieOptions, writeTokens } from "@/lib/session";

export const dynamic = "force-dynamic";

export async function GET(request: NextRequest) {
  const raw = request.cookies.get(TX_COOKIE)?.value;
  const fail = (error: string) => {
    const response = NextResponse.redirect(new URL(`/signed-out?error=${error}`, config.appUrl));
    response.cookies.set(TX_COOKIE, "", cookieOptions(0));
    return response;
  };
  let tx: { state: string; nonce: string; verifier: string };
  try {
    tx = JSON.parse(raw ?? "");
  } catch {
    return fail("login-expired");
  }
  // Build the URL from the configured origin: behind a proxy request.url may name another host.
  const callbackUrl = new URL(`/auth/callback${request.nextUrl.search}`, config.appUrl);
  try {
    const tokens = await finishLogin(callbackUrl, tx);
    const response = NextResponse.redirect(new URL("/tasks", config.appUrl));
    writeTokens(response.cookies, tokens);
    response.cookies.set(TX_COOKIE, "", cookieOptions(0));
    return response;
  } catch (e) {
    console.error("sign-in failed:", (e as Error).message);
    return fail(e instanceof SsoUnavailable ? "unavailable" : "login-failed");
  }
}
