/**
 * Debian's Chromium for the browser tests, driven by playwright-core (which ships no browser).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's `chromium` package installs the browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Screenshots from browser tests (git-ignored). */
export const ARTIFACTS_DIR = path.resolve(import.meta.dirname, '../artifacts');

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * Launches headless Chromium, or fails saying how to install it. Everything that would call home
 * (updates, sync, field trials) is off: the tests run without internet.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}; the browser tests need it. Install Debian's package: apt-get install -y chromium`);
  }
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * Builds the gallery from the current sources, so the test never runs a stale web/dist. The server
 * serves web/dist only when it exists at start, so this runs before the server starts.
 */
export function buildGallery(): void {
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}
