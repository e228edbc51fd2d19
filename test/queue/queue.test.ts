/**
 * The segmentation queue with real workers: several processes' worth of runtimes on one
 * database, failing jobs, imports and re-segmentation with the other model.
 */
import { mkdtemp, readdir, rm, truncate, writeFile, copyFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pino } from 'pino';
import sharp from 'sharp';
import { existsSync } from 'node:fs';
import { loadConfig } from '../../src/config.js';
import { ImageReadRepository } from '../../src/db/image-read.repository.js';
import { SegmentationRepository } from '../../src/db/segmentation.repository.js';
import { SegmentationService } from '../../src/services/segmentation.service.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../hardening/raw-http.js';
import { IMAGES_DIR, photo } from '../support/server.js';

let database: TestDatabase;
let dataDir: string;
const runtimes: Runtime[] = [];

beforeEach(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-queue-'));
});

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A runtime on the test database; `segmented` collects the ids its worker segmented. */
async function start(options: { worker: boolean; env?: Record<string, string> }) {
  const segmented: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { msg?: string; imageId?: string };
        if (entry.msg === 'image segmented' && entry.imageId) segmented.push(entry.imageId);
      }
      callback();
    },
  });
  const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, SEGCAT_WORKER_CONCURRENCY: '1', ...options.env });
  const runtime = await startRuntime(config, { http: false, worker: options.worker, logger: pino({ level: 'info' }, sink) });
  runtimes.push(runtime);
  return { runtime, segmented };
}

/** Distinct images made from the test photos (crops, flips, scales), so their hashes differ. */
async function variants(count: number): Promise<Buffer[]> {
  const sources = await Promise.all(['dog.jpg', 'horses.jpg', 'person.jpg', 'giraffe.jpg'].map(photo));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i += 1) {
    const source = sharp(sources[i % sources.length]);
    const { width = 640, height = 480 } = await source.metadata();
    const crop = 1 - (i % 5) * 0.04;
    out.push(
      await sharp(sources[i % sources.length])
        .extract({ left: i % 7, top: i % 3, width: Math.round(width * crop) - 7, height: Math.round(height * crop) - 3 })
        .flop(i % 2 === 1)
        .jpeg({ quality: 85 })
        .toBuffer(),
    );
  }
  return out;
}

it('two workers on one database process disjoint jobs, every image exactly once', async () => {
  const first = await start({ worker: true });
  const second = await start({ worker: true });
  const producer = await start({ worker: false });
  const ids: string[] = [];
  for (const [index, data] of (await variants(16)).entries()) {
    const result = await producer.runtime.services.ingest.ingest({ filename: `v${index}.jpg`, stream: Readable.from(data) }, { wait: false });
    expect(result.image.status).toBe('PENDING');
    ids.push(result.image.id);
  }
  await eventually(async () => (await producer.runtime.services.queue.counts()).done === ids.length, 'all images DONE', 90_000);
  const all = [...first.segmented, ...second.segmented];
  expect(new Set(all).size).toBe(all.length);
  expect([...all].sort()).toEqual([...ids].sort());
  expect(first.segmented.length).toBeGreaterThan(0);
  expect(second.segmented.length).toBeGreaterThan(0);
});

it('marks an image whose file turns out corrupt FAILED with a reason, and goes on with the rest', async () => {
  const producer = await start({ worker: false });
  const [good, bad] = await variants(2);
  const kept = await producer.runtime.services.ingest.ingest({ filename: 'good.jpg', stream: Readable.from(good!) }, { wait: false });
  const broken = await producer.runtime.services.ingest.ingest({ filename: 'bad.jpg', stream: Readable.from(bad!) }, { wait: false });
  // Damage the stored original after it was accepted, as a failing disk would.
  await truncate(path.join(dataDir, broken.image.storagePath), 2000);
  await start({ worker: true });
  const images = new ImageReadRepository(database.prisma);
  await eventually(async () => (await images.findByIds([kept.image.id, broken.image.id])).every((i) => i?.status === 'DONE' || i?.status === 'FAILED'), 'both settled', 90_000);
  const [failed] = await images.findByIds([broken.image.id]);
  expect(failed!.status).toBe('FAILED');
  expect(failed!.error).toMatch(/corrupt|truncated|premature|bad\.jpg|segmentation failed/i);
  const [done] = await images.findByIds([kept.image.id]);
  expect(done!.status).toBe('DONE');
  const masks = await readdir(path.join(dataDir, 'masks')).catch(() => []);
  expect(masks).not.toContain(broken.image.id);
});

it('imports a folder; a second import adds nothing; a corrupt file is reported and the rest go in', async () => {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'segcat-import-'));
  try {
    await mkdir(path.join(folder, 'nested'));
    for (const name of ['eagle.jpg', 'giraffe.jpg']) await copyFile(path.join(IMAGES_DIR, name), path.join(folder, name));
    // Picked by content: no extension, and a nested folder.
    await copyFile(path.join(IMAGES_DIR, 'dog.jpg'), path.join(folder, 'nested', 'dog-without-extension'));
    await writeFile(path.join(folder, 'notes.txt'), 'not an image');
    await writeFile(path.join(folder, 'broken.jpg'), (await photo('horses.jpg')).subarray(0, 3000));
    const { runtime } = await start({ worker: true });
    const { importer } = runtime.services;
    const files = await importer.findImages([folder]);
    expect(files.map((file) => path.relative(folder, file)).sort()).toEqual(['broken.jpg', 'eagle.jpg', 'giraffe.jpg', 'nested/dog-without-extension']);
    const first = await importer.importFiles(files, () => undefined);
    expect(first).toMatchObject({ total: 4, imported: 3, duplicates: 0, failed: 1 });
    expect(first.failures[0]!.file).toMatch(/broken\.jpg$/);
    expect(first.failures[0]!.reason).toMatch(/corrupt|truncated/i);
    const second = await importer.importFiles(files, () => undefined);
    expect(second).toMatchObject({ total: 4, imported: 0, duplicates: 3, failed: 1 });
    expect((await runtime.services.queue.counts()).done).toBe(3);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

it('re-segments with the other model: segments replaced, model recorded, old files gone', async () => {
  const { runtime } = await start({ worker: true });
  const { image } = await runtime.services.ingest.ingest({ filename: 'horses.jpg', stream: Readable.from(await photo('horses.jpg')) }, { wait: true });
  expect(image.modelName).toBe('yolo11n-seg-uint8');
  const [before = []] = await runtime.services.catalogue.segmentsOfImages([image.id]);
  const { batch, queued } = await runtime.services.queue.resegment({ ids: [image.id], model: 'yolov8n-seg-uint8' });
  expect(queued).toBe(1);
  await eventually(async () => {
    const progress = await runtime.services.queue.batch(batch!.id);
    return progress!.pending + progress!.processing === 0;
  }, 'resegmentation', 90_000);
  const [after] = await runtime.services.catalogue.imagesByIds([image.id]);
  expect(after).toMatchObject({ status: 'DONE', modelName: 'yolov8n-seg-uint8' });
  const [segments = []] = await runtime.services.catalogue.segmentsOfImages([image.id]);
  expect(segments.filter((segment) => segment.label === 'horse').length).toBeGreaterThanOrEqual(3);
  const beforeIds = new Set(before.map((segment) => segment.id));
  expect(segments.some((segment) => beforeIds.has(segment.id))).toBe(false);
  expect(segments.every((segment) => segment.maskPath.includes('/yolov8n-seg-uint8/'))).toBe(true);
  // The old model's files go once the new rows have committed, a moment after DONE.
  await eventually(async () => (await readdir(path.join(dataDir, 'masks', image.id))).join() === 'yolov8n-seg-uint8', 'old masks removed', 90_000);
  const outdated = await runtime.services.queue.resegment({ outdated: true, model: 'yolov8n-seg-uint8' });
  expect(outdated.queued).toBe(0);
});

it('imports a folder holding the same photo twice: one image, the copy counted as a duplicate', async () => {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'segcat-import-twice-'));
  try {
    for (const name of ['a.jpg', 'b.jpg']) await copyFile(path.join(IMAGES_DIR, 'eagle.jpg'), path.join(folder, name));
    const { runtime } = await start({ worker: true });
    const { importer } = runtime.services;
    const summary = await importer.importFiles(await importer.findImages([folder]), () => undefined);
    expect(summary).toMatchObject({ total: 2, imported: 1, duplicates: 1, failed: 0 });
    expect((await runtime.services.queue.counts()).done).toBe(1);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

it('keeps the current masks when a re-run with the same model fails half-way', async () => {
  const { runtime } = await start({ worker: true });
  const { services } = runtime;
  const { image } = await services.ingest.ingest({ filename: 'horses.jpg', stream: Readable.from(await photo('horses.jpg')) }, { wait: true });
  const images = new ImageReadRepository(database.prisma);
  const current = await images.filesOf(image.id);
  expect(current.length).toBeGreaterThanOrEqual(4);
  // The same model, whose background mask cannot be written: the object masks (same names as the
  // current ones) are written, then the run fails.
  const failing = { ...runtime.models.current, encodeBackground: () => Promise.reject(new Error('disk full')) };
  const segmentation = new SegmentationService({
    images,
    segmentations: new SegmentationRepository(database.prisma),
    store: runtime.store,
    models: { current: failing, get: async () => failing },
    logger: runtime.logger,
  });
  await database.prisma.image.update({ where: { id: image.id }, data: { status: 'PENDING' } });
  expect(await segmentation.segmentImage(image.id, { lastAttempt: true })).toBe('failed');
  for (const file of current) expect(existsSync(path.join(dataDir, file))).toBe(true);
});
