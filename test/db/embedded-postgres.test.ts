import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgresBusyError, startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { freePort } from '../support/database-server.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-embedded-'));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

async function query(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

test('starts under DATA_DIR/postgres, serves the segcat database, stops, and starts again on the same data', async () => {
  const port = await freePort();
  const first = await startEmbeddedPostgres({ dataDir, port });
  try {
    expect(first.url).toContain(`127.0.0.1:${port}/segcat`);
    expect(await query(first.url, 'SELECT current_database() AS db')).toEqual([{ db: 'segcat' }]);
    await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    expect((await stat(path.join(dataDir, 'postgres', 'PG_VERSION'))).isFile()).toBe(true);
  } finally {
    await first.stop();
  }
  await expect(query(first.url, 'SELECT 1')).rejects.toThrow();

  const second = await startEmbeddedPostgres({ dataDir, port });
  try {
    expect(await query(second.url, 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
  } finally {
    await second.stop();
  }
});

/** A live process that is not this one, standing in for another segcat server. */
function otherProcess() {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { pid: child.pid!, kill: async () => (child.kill(), await exited) };
}

test('refuses a DATA_DIR that another live segcat process is serving', async () => {
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  const other = otherProcess();
  try {
    await writeFile(path.join(dataDir, 'postgres.owner'), String(other.pid));
    const second = startEmbeddedPostgres({ dataDir, port: await freePort() });
    await expect(second).rejects.toBeInstanceOf(EmbeddedPostgresBusyError);
    await expect(second).rejects.toThrow(/already running on DATA_DIR .*stop it, or set DATABASE_URL/);
    expect(await query(server.url, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
  } finally {
    await other.kill();
    await server.stop();
  }
});

test('takes over a server left running by a segcat process that was killed', async () => {
  const port = await freePort();
  const orphan = await startEmbeddedPostgres({ dataDir, port });
  const dead = otherProcess();
  await dead.kill();
  await writeFile(path.join(dataDir, 'postgres.owner'), String(dead.pid));

  const server = await startEmbeddedPostgres({ dataDir, port });
  try {
    expect(await query(server.url, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
  } finally {
    await server.stop();
    await orphan.stop();
  }
});
