/**
 * Maintenance that touches originals and thumbnails (named after their bytes) takes the content
 * lock that uploads and deletions take, and looks at the rows again under it: the quarantine does
 * not move away an original that an upload recorded meanwhile, and the thumbnail backfill leaves
 * no thumbnail for an image deleted meanwhile. The test holds the lock itself, so each interleaving
 * is forced rather than hoped for: the maintenance is seen waiting on the lock before the row changes.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import sharp from 'sharp';
import { loadConfig } from '../../src/config.js';
import { ImageWriteRepository } from '../../src/db/image-write.repository.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { originalPath, thumbnailPath } from '../../src/storage/layout.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { photo } from '../support/server.js';
import { eventually } from './raw-http.js';

let database: TestDatabase;
let dataDir: string;
let runtime: Runtime;
let imageWrites: ImageWriteRepository;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-content-lock-'));
  const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, PORT: '0', NODE_ENV: 'test', SEGCAT_STALE_MINUTES: '10' });
  runtime = await startRuntime(config, { http: false, worker: false, logger: pino({ level: 'silent' }) });
  imageWrites = new ImageWriteRepository(runtime.database.prisma);
});

afterAll(async () => {
  await runtime?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const STALE_MS = 10 * 60_000;

/** Whether a session of this database is waiting for an advisory lock (the content lock). */
async function waitingForContentLock(): Promise<boolean> {
  const [row] = await runtime.database.prisma.$queryRaw<{ waiting: number }[]>`
    SELECT count(*)::int AS waiting FROM pg_locks
    WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  return row!.waiting > 0;
}

it('does not quarantine an original that an upload of its bytes recorded while the quarantine waited', async () => {
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: 'olive' } }).png().toBuffer();
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  // Left by an upload that crashed before recording its row, an hour ago.
  const orphan = originalPath(sha256, 'image/png');
  await mkdir(path.dirname(path.join(dataDir, orphan)), { recursive: true });
  await writeFile(path.join(dataDir, orphan), bytes);
  const anHourAgo = new Date(Date.now() - 60 * 60_000);
  await utimes(path.join(dataDir, orphan), anHourAgo, anHourAgo);

  const { maintenance } = runtime.services;
  const report = await maintenance.check({ olderThanMs: STALE_MS });
  expect(report.unreferenced).toEqual([orphan]);

  let repair: ReturnType<typeof maintenance.repair> | undefined;
  await imageWrites.withContentLock(sha256, async (content) => {
    repair = maintenance.repair(report, { olderThanMs: STALE_MS });
    await eventually(waitingForContentLock, 'the quarantine waiting for the content lock');
    // An upload of the same bytes, between the check and the move: it now owns the file.
    await content.create({
      sha256,
      filename: 'olive.png',
      mimeType: 'image/png',
      bytes: bytes.length,
      width: 64,
      height: 48,
      storagePath: orphan,
      thumbnailPath: thumbnailPath(sha256),
    });
  });
  expect(await repair).toMatchObject({ quarantined: 0, errors: [] });
  expect(existsSync(path.join(dataDir, orphan))).toBe(true);
  await runtime.database.prisma.image.delete({ where: { sha256 } });
});

it('makes missing thumbnails, and none for an image deleted while the backfill waited', async () => {
  const { image } = await runtime.services.ingest.ingest({ filename: 'dog.jpg', stream: Readable.from(await photo('dog.jpg')) }, { wait: false });
  const thumbnail = path.join(dataDir, image.thumbnailPath!);
  const { maintenance } = runtime.services;

  await unlink(thumbnail);
  expect(await maintenance.backfillThumbnails({ force: false })).toMatchObject({ made: 1, failed: 0 });
  expect((await sharp(thumbnail).metadata()).format).toBe('webp');

  await unlink(thumbnail);
  let backfill: ReturnType<typeof maintenance.backfillThumbnails> | undefined;
  await imageWrites.withContentLock(image.sha256, async () => {
    backfill = maintenance.backfillThumbnails({ force: false });
    await eventually(waitingForContentLock, 'the backfill waiting for the content lock');
    await runtime.database.prisma.image.delete({ where: { id: image.id } });
  });
  expect(await backfill).toMatchObject({ made: 0, failed: 0 });
  expect(existsSync(thumbnail)).toBe(false);
});
