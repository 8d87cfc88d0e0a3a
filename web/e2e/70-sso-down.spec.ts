// The SSO stops mid-session (SIGSTOP: it accepts connections and answers nothing). When the
// id_token runs out, the page says "auth server unavailable" and retries; when the SSO is back
// (SIGCONT) the page recovers by itself, still signed in.
import { expect, test } from "@playwright/test";
import { newUser, shot, signUp, stack, web } from "./stack";

const lifetime = Number(process.env.E2E_ID_TOKEN_SECONDS ?? "12");

test("SSO stopped mid-session: 'auth server unavailable', then recovery", async ({ page }) => {
  await signUp(page, newUser("outage"));
  await page.getByLabel("Title", { exact: true }).fill("Survives the outage");
  await page.getByRole("button", { name: "Add task" }).click();
  await expect(page.getByText("Survives the outage")).toBeVisible();

  const pid = Number(stack.SSO_PID);
  process.kill(pid, "SIGSTOP");
  try {
    await page.waitForTimeout((lifetime + 1) * 1000);
    await page.reload();
    await expect(page.getByRole("heading", { name: "Auth server unavailable" })).toBeVisible();
    await expect(page.getByRole("status")).toContainText("Retrying");
    await shot(page, "auth-server-unavailable");
  } finally {
    process.kill(pid, "SIGCONT");
  }
  // No user action: the page retries on its own.
  await expect(page.getByText("Survives the outage")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("heading", { name: "Tasks", exact: true })).toBeVisible();
});
