// A page from an origin the API does not list cannot read the API, even though the browser
// sends the cookie (same site: localhost): CORS blocks the response.
import { expect, test } from "@playwright/test";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { api, newUser, signUp, web } from "./stack";

test("a page served from a foreign origin cannot read the API; the app's origin can", async ({ page }) => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>foreign</title><h1>Foreign page</h1>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const foreign = `http://localhost:${(server.address() as AddressInfo).port}`;
  try {
    await signUp(page, newUser("victim"));
    const read = (url: string) =>
      page.evaluate(async (u) => {
        try {
          const r = await fetch(u, { credentials: "include" });
          return `status ${r.status}`;
        } catch (e) {
          return `blocked: ${(e as Error).message}`;
        }
      }, url);

    // Control: from the app's origin the same call can read the answer (200, or 401 if the
    // short-lived test id_token has just run out: readable either way).
    await page.goto(`${web}/signed-out`);
    expect(await read(`${api}/api/me`)).toMatch(/^status (200|401)$/);

    await page.goto(foreign);
    await expect(page.getByRole("heading", { name: "Foreign page" })).toBeVisible();
    expect(await read(`${api}/api/me`)).toMatch(/^blocked: Failed to fetch/);
    expect(await read(`${api}/api/tasks`)).toMatch(/^blocked: Failed to fetch/);
  } finally {
    server.close();
  }
});
