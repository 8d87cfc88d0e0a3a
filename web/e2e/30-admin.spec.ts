// The admin page: only for role admin (the API decides, 403 otherwise).
import { expect, test } from "@playwright/test";
import { newUser, shot, signIn, signUp, stack, userId, web } from "./stack";

test("the admin looks up a user and deletes their tasks; the user gets 'not allowed'", async ({ browser }) => {
  const userContext = await browser.newContext();
  const adminContext = await browser.newContext();
  try {
    const user = newUser("bob");
    const u = await userContext.newPage();
    await signUp(u, user);
    for (const title of ["Bob's first", "Bob's second"]) {
      await u.getByLabel("Title", { exact: true }).fill(title);
      await u.getByRole("button", { name: "Add task" }).click();
      await expect(u.getByText(title)).toBeVisible();
    }
    const id = await userId(u);
    await expect(u.getByRole("definition").filter({ hasText: user.email })).toBeVisible();
    await shot(u, "profile");
    await u.goto(`${web}/admin`);
    await expect(u.getByRole("heading", { name: "Not allowed" })).toBeVisible();
    await shot(u, "not-allowed");

    const a = await adminContext.newPage();
    await signIn(a, stack.ADMIN_EMAIL, stack.ADMIN_PASSWORD);
    await a.goto(`${web}/admin`);
    await expect(a.getByRole("heading", { name: "Admin" })).toBeVisible();
    await a.getByLabel("User id").fill(id);
    await a.getByRole("button", { name: "Look up" }).click();
    await expect(a.getByTestId("task-count")).toHaveText("2");
    // The SSO profile, fetched by tasks-api with its SSO admin key.
    await expect(a.getByRole("definition").filter({ hasText: user.email })).toBeVisible();
    await shot(a, "admin");
    await a.getByRole("button", { name: "Delete this user's tasks" }).click();
    await expect(a.getByRole("status")).toHaveText("Deleted 2 task(s).");
    await expect(a.getByTestId("task-count")).toHaveText("0");

    await u.goto(`${web}/tasks`);
    await expect(u.getByText("No tasks yet")).toBeVisible();
  } finally {
    await userContext.close();
    await adminContext.close();
  }
});
