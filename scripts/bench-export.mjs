#!/usr/bin/env node
// npm run bench:export [-- N] — time and memory of a COCO export (`segcat export`, exportCoco).
//
// Segments the test photos with the real model into a scratch database, then copies their rows
// (images, segments, labels; the copies share the mask files) up to N/4 and then N images
// (default 3000), and exports each catalogue to a file: prints images/s, masks/s, the file's size,
// the process's peak RSS (and its RSS before the export) and its peak heap over the start. Memory
// that stays flat while the catalogue grows 4x is what "streamed" promises.
// Uses a scratch database (scripts/lib/bench-utils.mjs). Run `npm run build` first.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { FIXTURE_PHOTOS, ROOT, scratchDatabase } from './lib/bench-utils.mjs';

const { loadConfig } = await import(path.join(ROOT, 'dist/config.js'));
const { startRuntime } = await import(path.join(ROOT, 'dist/runtime.js'));

const target = Number(process.argv[2] ?? process.env.N ?? 3000);
const MB = 1024 * 1024;

/** Copies images (with their segments and labels) until the catalogue holds `total` images. */
async function growTo(client, total) {
  const { rows } = await client.query('SELECT count(*)::int AS n FROM "Image"');
  const missing = total - rows[0].n;
  if (missing <= 0) return;
  await client.query('BEGIN');
  await client.query(`CREATE TEMP TABLE copies ON COMMIT DROP AS
    SELECT gen_random_uuid() AS id, source.id AS source, n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM "Image" WHERE sha256 NOT LIKE 'copy%') AS source,
         generate_series(0, $1::int) AS n
    WHERE n * (SELECT count(*) FROM "Image" WHERE sha256 NOT LIKE 'copy%') + source.k <= $1::int`, [missing]);
  await client.query(`INSERT INTO "Image" (id, sha256, filename, "mimeType", bytes, width, height, status, "storagePath",
      "thumbnailPath", "backgroundMaskPath", "backgroundArea", "modelName", "modelVersion", "segmentedAt", "createdAt", "updatedAt")
    SELECT c.id, 'copy' || rpad(replace(c.id::text, '-', ''), 60, '0'), i.filename, i."mimeType", i.bytes, i.width, i.height, i.status,
      i."storagePath", i."thumbnailPath", i."backgroundMaskPath", i."backgroundArea", i."modelName", i."modelVersion", i."segmentedAt",
      i."createdAt" - make_interval(secs => c.n + 1), now()
    FROM copies c JOIN "Image" i ON i.id = c.source`);
  await client.query(`INSERT INTO "Segment" (id, "imageId", label, "classId", score, x, y, width, height, area, "maskPath")
    SELECT gen_random_uuid(), c.id, s.label, s."classId", s.score, s.x, s.y, s.width, s.height, s.area, s."maskPath"
    FROM copies c JOIN "Segment" s ON s."imageId" = c.source`);
  await client.query(`INSERT INTO "ImageLabel" ("imageId", label, "maxScore", "segmentCount", "imageCreatedAt")
    SELECT c.id, l.label, l."maxScore", l."segmentCount", i."createdAt"
    FROM copies c JOIN "ImageLabel" l ON l."imageId" = c.source JOIN "Image" i ON i.id = c.id`);
  await client.query('COMMIT');
}

/** Runs `work` while sampling the process's memory; returns its result and the peaks over the start. */
async function measured(work) {
  globalThis.gc?.();
  const before = process.memoryUsage();
  const peak = { rss: before.rss, heapUsed: before.heapUsed };
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peak.rss = Math.max(peak.rss, now.rss);
    peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
  }, 20);
  const started = performance.now();
  try {
    const result = await work();
    return { result, seconds: (performance.now() - started) / 1000, rss: peak.rss / MB, base: before.rss / MB, heap: (peak.heapUsed - before.heapUsed) / MB };
  } finally {
    clearInterval(sampler);
  }
}

const database = await scratchDatabase('segcat_bench_export');
const workDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-export-'));
const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: path.join(workDir, 'data'), LOG_LEVEL: 'warn' });
const runtime = await startRuntime(config, { http: false, worker: true, logger: pino({ level: 'warn' }) });
const client = new pg.Client({ connectionString: database.url });
try {
  const photos = (await readdir(FIXTURE_PHOTOS)).filter((name) => name.endsWith('.jpg')).map((name) => path.join(FIXTURE_PHOTOS, name));
  const summary = await runtime.services.importer.importFiles(photos, () => undefined);
  if (summary.failed > 0) throw new Error(`${summary.failed} test photos failed to import`);
  await client.connect();
  console.log(`bench:export — the ${photos.length} test photos (${config.model}) copied up to ${target} images, ${os.cpus().length} cores\n`);
  for (const size of [Math.ceil(target / 4), target]) {
    await growTo(client, size);
    const out = path.join(workDir, `export-${size}.json`);
    const run = await measured(() => runtime.services.cocoExport.exportToFile({ minScore: 0.25 }, out));
    const { images, annotations, bytes } = run.result;
    console.log(
      `${images} images, ${annotations} masks: ${run.seconds.toFixed(1)} s (${(images / run.seconds).toFixed(0)} images/s, ` +
        `${(annotations / run.seconds).toFixed(0)} masks/s), file ${(bytes / MB).toFixed(1)} MB; ` +
        `peak RSS ${run.rss.toFixed(0)} MB (${run.base.toFixed(0)} MB at start), peak heap +${run.heap.toFixed(0)} MB`,
    );
    if ((await stat(out)).size !== bytes) throw new Error('the file is not the size the export reported');
    await rm(out);
  }
} finally {
  await client.end().catch(() => undefined);
  await runtime.close();
  await rm(workDir, { recursive: true, force: true });
  await database.drop();
}
