// The running stack, as scripts/stack described it in stack.env, and small helpers the tests share.
import { expect, type Page } from "@playwright/test";
import fs from "node:fs";
import path from "node:path";

function readEnv(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return out;
}

const envFile = process.env.E2E_STACK_ENV;
if (!envFile) throw new Error("E2E_STACK_ENV is not set: run the suite through scripts/e2e");
export const stack = readEnv(envFile);
export const web = stack.WEB_URL;
export const api = stack.API_URL;
export const sso = stack.SSO_URL;

/** Where the suite writes its screenshots of the main pages (kept out of git). */
export const screenshotDir = process.env.E2E_SCREENSHOTS ?? path.join(__dirname, "..", "screenshots");

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
}

/** A new unique user for one test. */
export function newUser(label: string) {
  const id = `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  return { name: `${label[0].toUpperCase()}${label.slice(1)} ${id.slice(-6)}`, email: `${id}@example.com`, password: "e2e-password-123" };
}

/** From the signed-out app: through the SSO's sign-up page and back to the tasks page. */
export async function signUp(page: Page, user: { name: string; email: string; password: string }) {
  await page.goto(`${web}/tasks`);
  await page.getByRole("link", { name: "Sign in" }).first().click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByRole("link", { name: "Create an account" }).click();
  await expect(page.getByRole("heading", { name: "Create an account" })).toBeVisible();
  await page.getByLabel("Name").fill(user.name);
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Create an account" }).click();
  await expect(page).toHaveURL(`${web}/tasks`);
  await expect(page.getByText(`Signed in as ${user.name}`)).toBeVisible();
}

/** From the signed-out app: through the SSO's sign-in page and back to the tasks page. */
export async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${web}/tasks`);
  await page.getByRole("link", { name: "Sign in" }).first().click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${web}/tasks`);
}

/** The user id the API reports (profile page). */
export async function userId(page: Page): Promise<string> {
  await page.goto(`${web}/profile`);
  const id = await page.getByRole("definition").nth(2).textContent();
  expect(id).toBeTruthy();
  return id!.trim();
}
