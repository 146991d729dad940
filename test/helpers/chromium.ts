// Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core (which
// never downloads a browser of its own), with a fresh empty profile that is removed afterwards.
import { chromium, type BrowserContext } from "playwright-core";
import { mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM = process.env.ESGZ_CHROMIUM ?? "/usr/bin/chromium";

const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** Runs `fn` with a browser context on a new empty profile; closes the browser and removes the profile, also on failure. */
export async function withChromium<T>(fn: (context: BrowserContext) => Promise<T>): Promise<T> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM} (Debian package "chromium"; scripts/setup.sh installs it)`);
  const profile = await mkdtemp(join(tmpdir(), "esgz-chromium-"));
  let context: BrowserContext | undefined;
  try {
    // launchPersistentContext is how playwright takes a --user-data-dir of our choosing.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      timeout: 60_000,
    });
    return await fn(context);
  } finally {
    await context?.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  }
}
