import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium (`npm test` installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Headless Chromium, as the browser tests, the browser benchmarks and the docs' screenshot run
 * it. Without the background-networking flags it keeps trying to reach Google's hosts, which a
 * closed network refuses.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: sudo apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
