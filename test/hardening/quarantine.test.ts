/**
 * The reconciler never deletes a stored file outright (issue 10, finding 1): at start, files no row
 * points to move to DATA_DIR/quarantine/<run>/<their path>, are never served, and are deleted only
 * once they have been there SEGCAT_QUARANTINE_DAYS. With DATABASE_URL, files younger than
 * SEGCAT_STALE_MINUTES stay where they are: another server may be about to record them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pino } from 'pino';
import sharp from 'sharp';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { photo } from '../support/server.js';
import { listTree } from './raw-http.js';

let database: TestDatabase;
let dataDir: string;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-quarantine-'));
});

afterAll(async () => {
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Starts a server on the test database and DATA_DIR; `logs` collects its log lines. */
async function start(logs: Record<string, unknown>[] = []): Promise<Runtime> {
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      callback();
    },
  });
  const config = loadConfig({
    DATABASE_URL: database.url,
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    SEGCAT_STALE_MINUTES: '10',
    SEGCAT_QUARANTINE_DAYS: '7',
  });
  return startRuntime(config, { http: true, worker: false, logger: pino({ level: 'info' }, sink) });
}

const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 60 * 60 * 1000);

it('moves old unreferenced files into quarantine, never serves them, and deletes them after the retention', async () => {
  const first = await start();
  const { image } = await first.services.ingest.ingest({ filename: 'dog.jpg', stream: Readable.from(await photo('dog.jpg')) }, { wait: false });
  await first.close();

  const picture = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).png().toBuffer();
  const orphans = ['originals/ab/orphan.png', `masks/${randomUUID()}/mstray.background.png`, `cutouts/${randomUUID()}/white.png`];
  const young = 'originals/cd/being-recorded.png';
  for (const file of [...orphans, young]) {
    await mkdir(path.dirname(path.join(dataDir, file)), { recursive: true });
    await writeFile(path.join(dataDir, file), picture);
  }
  for (const file of orphans) await utimes(path.join(dataDir, file), daysAgo(1 / 24), daysAgo(1 / 24));

  const logs: Record<string, unknown>[] = [];
  const second = await start(logs);
  let quarantined: string[];
  try {
    quarantined = (await listTree(path.join(dataDir, 'quarantine'))).map((file) => `quarantine/${file}`);
    expect(quarantined).toHaveLength(orphans.length);
    for (const file of orphans) {
      expect(existsSync(path.join(dataDir, file))).toBe(false);
      const moved = quarantined.find((entry) => entry.endsWith(`/${file}`));
      expect(moved).toMatch(new RegExp(`^quarantine/[^/]+/${file}$`));
      expect(await readFile(path.join(dataDir, moved!))).toEqual(picture);
    }
    expect(existsSync(path.join(dataDir, young))).toBe(true);
    expect(existsSync(path.join(dataDir, image.storagePath))).toBe(true);
    expect(logs).toContainEqual(expect.objectContaining({ quarantined: orphans.length }));

    for (const file of quarantined) {
      const response = await fetch(`${second.url}/files/${file}`);
      expect(response.status).toBe(404);
    }
  } finally {
    await second.close();
  }

  // Past the retention they go for good; a file quarantined more recently stays.
  const [kept, ...expired] = quarantined;
  await utimes(path.join(dataDir, kept!), daysAgo(6), daysAgo(6));
  for (const file of expired) await utimes(path.join(dataDir, file), daysAgo(8), daysAgo(8));
  await (await start()).close();
  expect((await listTree(path.join(dataDir, 'quarantine'))).map((file) => `quarantine/${file}`)).toEqual([kept]);
  expect(existsSync(path.join(dataDir, image.storagePath))).toBe(true);
}, 120_000);
