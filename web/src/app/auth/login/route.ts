// GET /auth/login: starts authorization code + PKCE (S256). The state, nonce and code verifier
// wait for the callback in a short-lived httpOnly cookie.
import { NextResponse } from "next/server";
import { SsoUnavailable, startLogin } from "@/lib/oidc";
import { TX_COOKIE, cookieOptions } from "@/lib/session";
import { config } from "@/lib/config";

export const dynamic = "force-dynamic";

export async function GET() {
  try {
    const { url, state, nonce, verifier } = await startLogin();
    const response = NextResponse.redirect(url);
    response.cookies.set(TX_COOKIE, JSON.stringify({ state, nonce, verifier }), cookieOptions(600));
    return response;
  } catch (e) {
    if (e instanceof SsoUnavailable) return NextResponse.redirect(new URL("/signed-out?error=unavailable", config.appUrl));
    throw e;
  }
}
