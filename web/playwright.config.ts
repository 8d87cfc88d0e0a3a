// Browser tests of the whole system (web app → Better Auth SSO → tasks-api), run by scripts/e2e
// against a stack it started (E2E_STACK_ENV names its stack.env). Debian's Chromium, not a
// browser downloaded by Playwright.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  // One stack, one worker: the tests share the SSO (one of them stops it for a while).
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: process.env.E2E_OUTPUT_DIR ?? "test-results",
  use: {
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
    screenshot: "only-on-failure",
    trace: "off",
    video: "off",
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
  },
});
