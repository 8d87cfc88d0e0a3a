// Tasks in both calling styles: server actions forwarding the Bearer id_token, and the browser's
// ApiClient calling the Rust API with credentials: 'include' (a real CORS preflight).
import { expect, test, type Page } from "@playwright/test";
import { api, newUser, shot, signUp, web } from "./stack";

async function addTask(page: Page, title: string, description = "") {
  await page.getByLabel("Title", { exact: true }).fill(title);
  await page.getByLabel("Description").fill(description);
  await page.getByRole("button", { name: "Add task" }).click();
  await expect(page.getByRole("checkbox", { name: `Done: ${title}` })).toBeVisible();
}

const titles = (page: Page) => page.getByRole("listitem").locator(".title").allTextContents();

for (const style of ["server", "client"] as const) {
  test(`@db create, edit, toggle, delete, page and reload (${style} calling style)`, async ({ page }) => {
    await signUp(page, newUser(`crud-${style}`));
    await page.goto(`${web}/tasks?style=${style}`);
    await expect(page.getByText("No tasks yet")).toBeVisible();

    await addTask(page, "Buy milk", "two litres");
    await addTask(page, "Write report");
    // Newest first.
    expect((await titles(page))[0]).toContain("Write report");

    // Edit.
    await page.getByRole("button", { name: "Edit Buy milk" }).click();
    await page.getByLabel("New title for Buy milk").fill("Buy oat milk");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("checkbox", { name: "Done: Buy oat milk" })).toBeVisible();

    // Toggle.
    await page.getByRole("checkbox", { name: "Done: Write report" }).click();
    await expect(page.getByRole("checkbox", { name: "Done: Write report" })).toBeChecked();

    // Reload: everything was stored by the API.
    await page.reload();
    await expect(page.getByRole("checkbox", { name: "Done: Write report" })).toBeChecked();
    await expect(page.getByRole("checkbox", { name: "Done: Buy oat milk" })).not.toBeChecked();
    expect(await titles(page)).toEqual([expect.stringContaining("Write report"), expect.stringContaining("Buy oat milk")]);

    // Paging (TASKS_PAGE_SIZE=3 in the e2e stack): four tasks make two pages.
    await addTask(page, "Third");
    await addTask(page, "Fourth");
    await page.reload();
    await expect(page.getByRole("listitem")).toHaveCount(3);
    await page.getByRole("button", { name: "Load more" }).click();
    await expect(page.getByRole("listitem")).toHaveCount(4);
    await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
    expect((await titles(page))[3]).toContain("Buy oat milk");
    if (style === "server") await shot(page, "tasks");

    // Delete.
    await page.getByRole("button", { name: "Delete Buy oat milk" }).click();
    await expect(page.getByRole("checkbox", { name: "Done: Buy oat milk" })).toHaveCount(0);
    await page.reload();
    await expect(page.getByRole("listitem")).toHaveCount(3);
    await expect(page.getByText("Buy oat milk")).toHaveCount(0);
  });
}

test("the client-side ApiClient calls the API cross-origin with the cookie (CORS preflight passes)", async ({ page }) => {
  await signUp(page, newUser("cors"));
  await page.goto(`${web}/tasks?style=client`);
  await expect(page.getByText("No tasks yet")).toBeVisible();
  // A JSON POST with credentials from another origin needs a preflight; the browser only lets
  // the page read the 201 after the preflight allowed this origin with credentials.
  const created = page.waitForResponse((r) => r.url() === `${api}/api/tasks` && r.request().method() === "POST");
  await page.getByLabel("Title", { exact: true }).fill("From the browser");
  await page.getByRole("button", { name: "Add task" }).click();
  const response = await created;
  expect(response.status()).toBe(201);
  expect(response.headers()["access-control-allow-origin"]).toBe(web);
  expect(response.headers()["access-control-allow-credentials"]).toBe("true");
  // The API got no Authorization header from the browser: the cookie carried the token.
  expect(await response.request().headerValue("authorization")).toBeNull();
  await expect(page.getByRole("checkbox", { name: "Done: From the browser" })).toBeVisible();
  await shot(page, "tasks-client-style");
});

test("a second user in a second browser context sees none of the first user's tasks", async ({ browser }) => {
  const first = await browser.newContext();
  const second = await browser.newContext();
  try {
    const a = await first.newPage();
    await signUp(a, newUser("first"));
    await a.getByLabel("Title", { exact: true }).fill("First user's secret");
    await a.getByRole("button", { name: "Add task" }).click();
    await expect(a.getByText("First user's secret")).toBeVisible();

    const b = await second.newPage();
    await signUp(b, newUser("second"));
    await expect(b.getByText("No tasks yet")).toBeVisible();
    await b.goto(`${web}/tasks?style=client`);
    await expect(b.getByText("No tasks yet")).toBeVisible();
    await expect(b.getByText("First user's secret")).toHaveCount(0);
  } finally {
    await first.close();
    await second.close();
  }
});

test("the tasks page works from the keyboard alone", async ({ page }) => {
  await signUp(page, newUser("keys"));
  // Tab from the top of the page to the title field, type, Enter submits.
  await page.getByLabel("Title", { exact: true }).focus();
  await page.keyboard.type("Typed task");
  await page.keyboard.press("Enter");
  const done = page.getByRole("checkbox", { name: "Done: Typed task" });
  await expect(done).toBeVisible();
  await done.focus();
  await page.keyboard.press("Space");
  await expect(done).toBeChecked();
  // Tab reaches the row's Edit button; it shows a visible focus ring.
  await page.keyboard.press("Tab");
  const edit = page.getByRole("button", { name: "Edit Typed task" });
  await expect(edit).toBeFocused();
  const outline = await edit.evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe("none");
  await page.keyboard.press("Enter");
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("Typed and edited");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("checkbox", { name: "Done: Typed and edited" })).toBeVisible();
});
