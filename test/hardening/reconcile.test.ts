/**
 * Start-up reconciliation against a shared database (DATABASE_URL): a job a dead worker left
 * locked past SEGCAT_STALE_MINUTES is re-queued and its image finishes; one locked recently (a live
 * worker elsewhere may hold it) is left alone; temporary files go, and orphan files go into
 * DATA_DIR/quarantine/ only once they are older than the threshold. (The embedded-database case, where everything left over is
 * reclaimed, is the crash test's.)
 */
import { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { photo } from '../support/server.js';
import { eventually, listTree } from './raw-http.js';

let database: TestDatabase;
let dataDir: string;
const runtimes: Runtime[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-reconcile-'));
});

afterAll(async () => {
  for (const runtime of runtimes) await runtime.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(worker: boolean): Promise<Runtime> {
  const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', SEGCAT_STALE_MINUTES: '10' });
  const runtime = await startRuntime(config, { http: false, worker });
  runtimes.push(runtime);
  return runtime;
}

it('re-queues stale locked jobs and their PROCESSING images, keeps fresh ones, and quarantines only old orphans', async () => {
  const queuing = await start(false);
  const ids: string[] = [];
  for (const name of ['dog.jpg', 'eagle.jpg']) {
    const { image } = await queuing.services.ingest.ingest({ filename: name, stream: Readable.from(await photo(name)) }, { wait: false });
    ids.push(image.id);
  }
  await queuing.close();
  const [stale, fresh] = ids as [string, string];
  // What a worker killed mid-job leaves: its job locked, its image PROCESSING.
  await database.prisma.$executeRawUnsafe(
    `UPDATE graphile_worker._private_jobs SET locked_by = 'dead-worker',
       locked_at = now() - CASE key WHEN $1 THEN interval '20 minutes' ELSE interval '1 minute' END`,
    stale,
  );
  await database.prisma.image.updateMany({ where: { id: { in: ids } }, data: { status: 'PROCESSING' } });
  const old = path.join(dataDir, 'originals', 'ff', 'old-orphan.jpg');
  const young = path.join(dataDir, 'originals', 'ff', 'young-orphan.jpg');
  await mkdir(path.dirname(old), { recursive: true });
  const orphan = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).jpeg().toBuffer();
  await writeFile(old, orphan);
  await writeFile(young, orphan);
  const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
  await utimes(old, hourAgo, hourAgo);
  // Another server sharing DATA_DIR may be receiving an upload right now: only old ones go.
  await writeFile(path.join(dataDir, 'tmp', 'abandoned.upload'), 'half an upload');
  await utimes(path.join(dataDir, 'tmp', 'abandoned.upload'), hourAgo, hourAgo);
  await writeFile(path.join(dataDir, 'tmp', 'in-flight.upload'), 'an upload being received');

  await start(true);
  const locks = await database.prisma.$queryRaw<{ key: string; locked_by: string | null }[]>`
    SELECT key, locked_by FROM graphile_worker._private_jobs`;
  expect(locks.find((job) => job.key === fresh)?.locked_by).toBe('dead-worker');
  expect(locks.find((job) => job.key === stale)?.locked_by ?? null).not.toBe('dead-worker');
  expect(existsSync(path.join(dataDir, 'tmp', 'abandoned.upload'))).toBe(false);
  expect(existsSync(path.join(dataDir, 'tmp', 'in-flight.upload'))).toBe(true);
  expect(existsSync(old)).toBe(false);
  expect((await listTree(path.join(dataDir, 'quarantine'))).filter((file) => file.endsWith('/originals/ff/old-orphan.jpg'))).toHaveLength(1);
  expect(existsSync(young)).toBe(true);
  await eventually(
    async () => (await database.prisma.image.findUnique({ where: { id: stale } }))?.status === 'DONE',
    'the stale image is segmented',
    90_000,
  );
  expect((await database.prisma.image.findUnique({ where: { id: fresh } }))?.status).toBe('PROCESSING');
});
