// Sign-out: the token cookies are gone, the SSO session is ended (end_session_endpoint), and the
// back button does not show the tasks.
import { expect, test } from "@playwright/test";
import { newUser, signUp, sso, stack, web } from "./stack";

test("sign-out clears the cookies, ends the SSO session, and back does not show tasks", async ({ page }) => {
  await signUp(page, newUser("leaver"));
  await page.getByLabel("Title", { exact: true }).fill("Private task");
  await page.getByRole("button", { name: "Add task" }).click();
  await expect(page.getByText("Private task")).toBeVisible();
  expect((await page.context().cookies(sso)).some((c) => c.name.includes("session_token"))).toBe(true);

  const refreshToken = (await page.context().cookies(web)).find((c) => c.name === "refresh_token")?.value;
  expect(refreshToken).toBeTruthy();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(new RegExp(`^${web}/signed-out`));
  await expect(page.getByText("You have been signed out.")).toBeVisible();

  const appCookies = await page.context().cookies(web);
  expect(appCookies.filter((c) => [stack.COOKIE_NAME, "refresh_token", "oauth_tx"].includes(c.name))).toEqual([]);
  // The SSO's own session cookie is gone too (RP-initiated logout).
  expect((await page.context().cookies(sso)).filter((c) => c.name.includes("session_token"))).toEqual([]);

  // The refresh token was revoked at the SSO.
  const refused = await fetch(`${sso}/api/auth/oauth2/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from("rust-backend:rust-backend-secret").toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken! }),
  });
  expect(refused.status).toBe(400);
  expect((await refused.json()).error).toBe("invalid_grant");

  await page.goBack();
  await expect(page.getByText("Private task")).toHaveCount(0);
  await expect(page.getByRole("heading", { name: "You are signed out" })).toBeVisible();

  // Signing in again asks for the password: the SSO session really ended.
  await page.getByRole("link", { name: "Sign in" }).first().click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});
