import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Browser tests run whenever Chromium is there. They are skipped only when `.ci/run` could not install
 * it and said so (BROWSER_TESTS=unavailable); a missing browser without that note fails the run, so a
 * machine that lost its browser never reports the browser tests as passed.
 */
export function browserTestsAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env.BROWSER_TESTS === 'unavailable') {
    process.stderr.write(`browser tests skipped: no Chromium at ${CHROMIUM_PATH} and .ci/run could not install it\n`);
    return false;
  }
  throw new Error(
    `No Chromium at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set CHROMIUM_PATH; ` +
      'set BROWSER_TESTS=unavailable only where it cannot be installed',
  );
}

/** Headless Chromium with the flags that keep it off the network on its own (no update or sync calls). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
