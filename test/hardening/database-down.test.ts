/**
 * Database trouble. Down at start: `segcat serve` exits non-zero with one line on stderr. Gone
 * while running: requests fail with a clear message and HTTP 503, /health says 503, nothing
 * crashes; back again: everything works without a restart. Against an embedded PostgreSQL that
 * the test stops and starts on the same data directory and port.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { freePort, startTestServer, photo, waitForSettled, type TestServer } from '../support/server.js';
import { eventually } from './raw-http.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

it('exits non-zero with one clear line when PostgreSQL is down at start', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-nodb-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/segcat.js'), 'serve'], {
    env: { ...process.env, DATABASE_URL: `postgresql://postgres@127.0.0.1:${await freePort()}/segcat`, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  await rm(dataDir, { recursive: true, force: true });
  expect(code).not.toBe(0);
  expect(stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^segcat: cannot reach PostgreSQL at 127\.0\.0\.1:\d+ \(ECONNREFUSED\); start the server, or fix DATABASE_URL/)]);
});

describe('PostgreSQL going away while serving', () => {
  let work: string;
  let port: number;
  let postgres: EmbeddedPostgres;
  let server: TestServer;
  const QUERY = '{ images { totalCount } }';

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'segcat-dbdown-'));
    await chmod(work, 0o755); // the embedded PostgreSQL runs as its own user when tests run as root
    port = await freePort();
    postgres = await startEmbeddedPostgres({ dataDir: work, port, logger: pino({ level: 'silent' }) });
    server = await startTestServer({ DATABASE_URL: postgres.url, LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent' });
  });

  afterAll(async () => {
    await server?.stop();
    await postgres?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('answers 503 with a clear message while the database is down, and recovers when it is back', async () => {
    expect((await server.graphql(QUERY)).data.images.totalCount).toBe(0);
    await postgres.stop();

    const down = await server.graphql(QUERY);
    expect(down.status).toBe(503);
    expect(down.errors?.[0]).toMatchObject({ message: 'the database is unavailable; try again shortly', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    const upload = await server.upload(`mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id } } }`, [
      { variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') },
    ]);
    expect(upload.errors?.[0]?.message).toBe('the database is unavailable; try again shortly');
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'unavailable', checks: { database: { ok: false } } });

    postgres = await startEmbeddedPostgres({ dataDir: work, port, logger: pino({ level: 'silent' }) });
    await eventually(async () => (await fetch(`${server.url}/health`)).status === 200, '/health is 200 again', 60_000);
    expect((await server.graphql(QUERY)).data.images.totalCount).toBe(0);
    // Recorded, queued, and segmented by the server's own worker, which has recovered too.
    const again = await server.upload(`mutation($file: Upload!) { uploadImage(input: { file: $file, wait: false }) { image { id status } } }`, [
      { variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') },
    ]);
    expect(again.errors).toBeUndefined();
    expect(again.data.uploadImage.image.status).toBe('PENDING');
    expect(await waitForSettled(server, again.data.uploadImage.image.id)).toBe('DONE');
  });
});
