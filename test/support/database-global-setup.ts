/**
 * jest globalSetup: one PostgreSQL for every test worker. With TEST_DATABASE_URL that server is
 * used as is; without it, an embedded PostgreSQL is started on a free port with its data in a
 * temporary directory. The migrated template is built by the first worker that needs it (under an
 * advisory lock, see database.ts): building it here would load the app's modules, which this
 * CommonJS-loaded file cannot (see database-server.ts).
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { ADMIN_URL_VARIABLE, freePort, rememberTestServer } from './database-server';

/** Starts the embedded server when needed and publishes the server's URL to the workers. */
export default async function setUpTestDatabase(): Promise<void> {
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-test-pg-'));
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    rememberTestServer({ server, dataDir });
    serverUrl = server.adminUrl;
  }
  process.env[ADMIN_URL_VARIABLE] = serverUrl;
}
