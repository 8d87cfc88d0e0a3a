import type { Metadata } from "next";
import Link from "next/link";
import { cookies } from "next/headers";
import { config } from "@/lib/config";
import { peekClaims } from "@/lib/oidc";
import { REFRESH_COOKIE } from "@/lib/session";
import "./globals.css";

export const metadata: Metadata = { title: "Tasks · ssoguard demo" };

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const store = await cookies();
  const idToken = store.get(config.idCookie)?.value;
  // While the SSO is down the id_token may have run out; the refresh token still means a session.
  const hasSession = Boolean(idToken || store.get(REFRESH_COOKIE)?.value);
  const claims = idToken ? peekClaims(idToken) : undefined;
  const name = typeof claims?.name === "string" ? claims.name : undefined;
  return (
    <html lang="en">
      <body>
        <header>
          <nav aria-label="Main">
            <Link href="/tasks" prefetch={false}>Tasks</Link>
            <Link href="/profile" prefetch={false}>Profile</Link>
            <Link href="/admin" prefetch={false}>Admin</Link>
            {hasSession ? (
              <>
                <span className="who">{name ? `Signed in as ${name}` : "Signed in"}</span>
                <form action="/auth/logout" method="post">
                  <button type="submit" className="secondary">Sign out</button>
                </form>
              </>
            ) : (
              <a className="who" href="/auth/login">Sign in</a>
            )}
          </nav>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
