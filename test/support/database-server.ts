/**
 * The PostgreSQL server of a jest run, shared by globalSetup, globalTeardown and the workers.
 * jest loads globalSetup/globalTeardown as CommonJS without `moduleNameMapper`, so those two import
 * only this file and embedded-postgres.ts, without the `.js` suffix, and neither of those imports a
 * sibling at runtime.
 */
import net from 'node:net';
import type { EmbeddedPostgres } from '../../src/db/embedded-postgres.js';

/** Set by globalSetup for the workers (forked after it, so they inherit it): the server's maintenance URL. */
export const ADMIN_URL_VARIABLE = 'SEGCAT_TEST_ADMIN_URL';

/** What globalSetup started. */
export interface StartedTestServer {
  server: EmbeddedPostgres;
  dataDir: string;
}

// jest runs globalSetup and globalTeardown in one process but may load this module twice.
const KEY = Symbol.for('segcat.test.embeddedPostgres');
const registry = globalThis as unknown as Record<symbol, StartedTestServer | undefined>;

/** Records the server for the teardown. */
export function rememberTestServer(started: StartedTestServer): void {
  registry[KEY] = started;
}

/** Takes back the server recorded by `rememberTestServer`, if any. */
export function takeTestServer(): StartedTestServer | undefined {
  const started = registry[KEY];
  registry[KEY] = undefined;
  return started;
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
