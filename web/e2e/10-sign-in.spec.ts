// Sign up and sign in through the SSO's own pages, and land back on the tasks page by name.
import { expect, test } from "@playwright/test";
import { newUser, shot, signIn, signUp, sso, stack, web } from "./stack";

test("sign up on the SSO page, land on the tasks page with the right name", async ({ page }) => {
  const user = newUser("alice");
  await page.goto(`${web}/tasks`);
  await expect(page.getByRole("heading", { name: "You are signed out" })).toBeVisible();
  await shot(page, "signed-out");
  await page.getByRole("link", { name: "Sign in" }).first().click();
  // The SSO's page, on the SSO's origin, opened by the authorize endpoint with PKCE S256.
  await expect(page).toHaveURL(new RegExp(`^${sso}/login\\?.*code_challenge_method=S256`));
  await shot(page, "sso-sign-in");
  await page.goto(`${web}/tasks`);
  await signUp(page, user);
  await expect(page.getByText("No tasks yet")).toBeVisible();
  await shot(page, "tasks-empty");

  // The tokens are in httpOnly, SameSite=Lax cookies (not Secure: this stack is plain http),
  // and nothing is in localStorage.
  const cookies = await page.context().cookies(web);
  const idCookie = cookies.find((c) => c.name === stack.COOKIE_NAME);
  const refreshCookie = cookies.find((c) => c.name === "refresh_token");
  for (const c of [idCookie, refreshCookie]) {
    expect(c, "token cookie").toBeTruthy();
    expect(c!.httpOnly).toBe(true);
    expect(c!.sameSite).toBe("Lax");
  }
  expect(cookies.find((c) => c.name === "oauth_tx"), "the login transaction cookie is gone").toBeFalsy();
  expect(await page.evaluate(() => localStorage.length)).toBe(0);
  expect(await page.evaluate(() => document.cookie)).not.toContain(stack.COOKIE_NAME);
});

test("the seeded demo user signs in on the SSO's sign-in page", async ({ page }) => {
  await signIn(page, stack.DEMO_EMAIL, stack.DEMO_PASSWORD);
  await expect(page.getByText(`Signed in as ${stack.DEMO_NAME}`)).toBeVisible();
});

test("a wrong password is refused on the SSO page", async ({ page }) => {
  await page.goto(`${web}/auth/login`);
  await page.getByLabel("Email").fill(stack.DEMO_EMAIL);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("Invalid email or password");
});

test("a callback with a forged state is refused", async ({ page }) => {
  await page.goto(`${web}/auth/login`);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  // The login transaction cookie exists now; a callback with the right issuer but another
  // state fails (before any code exchange).
  await page.goto(`${web}/auth/callback?code=forged&state=forged&iss=${encodeURIComponent(`${sso}/api/auth`)}`);
  await expect(page.getByText("The sign-in could not be completed")).toBeVisible();
  const cookies = await page.context().cookies(web);
  expect(cookies.find((c) => c.name === stack.COOKIE_NAME)).toBeFalsy();
});
