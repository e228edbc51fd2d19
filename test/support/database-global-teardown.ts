/** jest globalTeardown: stops the embedded PostgreSQL the global setup started, and removes its data. */
import { rm } from 'node:fs/promises';
import { takeTestServer } from './database-server';

/** Stops the run's embedded server, if there is one. */
export default async function tearDownTestDatabase(): Promise<void> {
  const started = takeTestServer();
  if (!started) return;
  await started.server.stop();
  await rm(started.dataDir, { recursive: true, force: true });
}
