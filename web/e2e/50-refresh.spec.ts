// A short-lived id_token (BA_ID_TOKEN_SECONDS in the e2e stack) is refreshed without the user
// noticing: on page loads (the proxy), in server actions and after a 401 in the ApiClient.
import { expect, test } from "@playwright/test";
import { newUser, signUp, stack, web } from "./stack";

const lifetime = Number(process.env.E2E_ID_TOKEN_SECONDS ?? "12");

test("an expiring id_token is refreshed on its own", async ({ page }) => {
  await signUp(page, newUser("refresh"));
  const idToken = async () => (await page.context().cookies(web)).find((c) => c.name === stack.COOKIE_NAME)?.value;
  const first = await idToken();
  expect(first).toBeTruthy();

  // Past half its lifetime: the next page load refreshes it.
  await page.waitForTimeout((lifetime / 2 + 1) * 1000);
  await page.reload();
  await expect(page.getByRole("heading", { name: "Tasks", exact: true })).toBeVisible();
  const second = await idToken();
  expect(second).toBeTruthy();
  expect(second).not.toBe(first);

  // Past its whole lifetime (the browser dropped the cookie): the client-side ApiClient gets a
  // 401, asks the app to refresh, retries; the user just sees the task added.
  await page.goto(`${web}/tasks?style=client`);
  await expect(page.getByText("No tasks yet")).toBeVisible();
  await page.waitForTimeout((lifetime + 1) * 1000);
  await page.getByLabel("Title", { exact: true }).fill("After expiry");
  await page.getByRole("button", { name: "Add task" }).click();
  await expect(page.getByRole("checkbox", { name: "Done: After expiry" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "You are signed out" })).toHaveCount(0);

  // And a server action after expiry.
  await page.goto(`${web}/tasks?style=server`);
  await page.waitForTimeout((lifetime + 1) * 1000);
  await page.getByRole("checkbox", { name: "Done: After expiry" }).click();
  await expect(page.getByRole("checkbox", { name: "Done: After expiry" })).toBeChecked();
  await page.reload();
  await expect(page.getByRole("checkbox", { name: "Done: After expiry" })).toBeChecked();
});
