import type { Metadata } from "next";
import Link from "next/link";
import { cookies } from "next/headers";
import { config } from "@/lib/config";
import { peekClaims } from "@/lib/oidc";
import "./globals.css";

export const metadata: Metadata = { title: "Tasks · ssoguard demo" };

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const idToken = (await cookies()).get(config.idCookie)?.value;
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
            {claims ? (
              <>
                <span className="who">Signed in as {name ?? "you"}</span>
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
