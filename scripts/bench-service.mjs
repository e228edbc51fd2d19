#!/usr/bin/env node
// npm run bench:service — service latency and search at scale, printed as a table.
//
// 1. upload→DONE: each photo in test/fixtures/images (or the folder given) uploaded over HTTP with
//    wait: true, REPEAT times (deleted between rounds so it is segmented afresh), p50/p95, and the
//    ratio to the model run alone on the same photos.
// 2. search at scale: SEED_IMAGES images and ~5 segments each seeded straight into PostgreSQL with
//    a Zipf-like class distribution (person most common), then first pages of
//    images(labels: ["bird"]) and a few other searches over HTTP, p50/p95.
//
// Uses a scratch database (scripts/lib/bench-utils.mjs). Run `npm run build` first.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { percentile, ROOT, scratchDatabase, FIXTURE_PHOTOS } from './lib/bench-utils.mjs';

const { loadConfig } = await import(path.join(ROOT, 'dist/config.js'));
const { startRuntime } = await import(path.join(ROOT, 'dist/runtime.js'));

const imagesDir = path.resolve(process.argv[2] ?? FIXTURE_PHOTOS);
const REPEAT = Number(process.env.REPEAT ?? 3);
const SEED_IMAGES = Number(process.env.SEED_IMAGES ?? 100_000);
const SEGMENTS_PER_IMAGE = 5;
const QUERY_RUNS = Number(process.env.QUERY_RUNS ?? 200);
const ms = (value) => `${value.toFixed(1)} ms`;

const database = await scratchDatabase('segcat_bench');
const databaseUrl = database.url;
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-'));
const runtime = await startRuntime(loadConfig({ DATABASE_URL: databaseUrl, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' }), {
  http: true,
  worker: true,
});

async function graphql(query, variables = {}) {
  const response = await fetch(`${runtime.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function upload(name, bytes) {
  const form = new FormData();
  form.append('operations', JSON.stringify({
    query: 'mutation($f: Upload!) { uploadImage(input: { file: $f }) { image { id status } } }',
    variables: { f: null },
  }));
  form.append('map', JSON.stringify({ 0: ['variables.f'] }));
  form.append('0', new Blob([bytes]), name);
  const response = await fetch(`${runtime.url}/graphql`, { method: 'POST', body: form, headers: { 'apollo-require-preflight': 'true' } });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data.uploadImage.image;
}

try {
  // --- 1. upload → DONE
  const photos = (await readdir(imagesDir)).filter((name) => /\.(jpe?g|png|webp)$/i.test(name)).sort();
  const latencies = [];
  const modelRuns = [];
  const vision = runtime.models.current;
  for (const name of photos) {
    const file = path.join(imagesDir, name);
    await vision.segment(file); // warm-up
    for (let round = 0; round < REPEAT; round += 1) modelRuns.push((await vision.segment(file)).timings.inferenceMs);
  }
  for (let round = 0; round < REPEAT; round += 1) {
    for (const name of photos) {
      const bytes = await readFile(path.join(imagesDir, name));
      const started = performance.now();
      const image = await upload(name, bytes);
      latencies.push(performance.now() - started);
      if (image.status !== 'DONE') throw new Error(`${name} ended ${image.status}`);
      await graphql('mutation($id: ID!) { deleteImage(input: { id: $id }) { id } }', { id: image.id });
    }
  }
  const uploadP50 = percentile(latencies, 50);
  const modelP50 = percentile(modelRuns, 50);
  console.log(`\nupload → DONE over HTTP (${photos.length} photos × ${REPEAT}, wait: true)`);
  console.log(`  p50 ${ms(uploadP50)}   p95 ${ms(percentile(latencies, 95))}`);
  console.log(`  model run alone p50 ${ms(modelP50)}   ratio upload/model ${(uploadP50 / modelP50).toFixed(2)}`);

  // --- 2. search at scale
  const classes = vision.model.classNames;
  const weights = classes.map((_, rank) => 1 / (rank + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let cumulative = 0;
  const bands = classes.map((label, classId) => {
    const lo = cumulative;
    cumulative += weights[classId] / total;
    return `(${pgLiteral(label)}, ${classId}, ${lo}, ${classId === classes.length - 1 ? 1.000001 : cumulative})`;
  });
  const seedStarted = performance.now();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`
    INSERT INTO "Image" (id, sha256, filename, "mimeType", bytes, width, height, status, "storagePath",
                         "createdAt", "segmentedAt", "modelName", "modelVersion")
    SELECT gen_random_uuid(), encode(sha256(('seed-' || g)::bytea), 'hex'), 'seed-' || g || '.jpg', 'image/jpeg',
           150000, 640, 480, 'DONE', 'originals/00/seed-' || g || '.jpg', now() - make_interval(secs => g), now(), 'seed', 'seed'
    FROM generate_series(1, ${SEED_IMAGES}) AS g`);
  await client.query(`
    WITH bands(label, class_id, lo, hi) AS (VALUES ${bands.join(',')}),
    draws AS (SELECT i.id, random() AS r, random() AS s FROM "Image" i, generate_series(1, ${SEGMENTS_PER_IMAGE}) WHERE i."modelName" = 'seed')
    INSERT INTO "Segment" ("imageId", label, "classId", score, x, y, width, height, area, "maskPath")
    SELECT d.id, b.label, b.class_id, 0.25 + d.s * 0.74, 10, 10, 100, 100, 6000, 'masks/seed/m.png'
    FROM draws d JOIN bands b ON d.r >= b.lo AND d.r < b.hi`);
  await client.query(`
    INSERT INTO "ImageLabel" ("imageId", label, "maxScore", "segmentCount", "imageCreatedAt")
    SELECT s."imageId", s.label, max(s.score), count(*), i."createdAt"
    FROM "Segment" s JOIN "Image" i ON i.id = s."imageId" WHERE i."modelName" = 'seed'
    GROUP BY s."imageId", s.label, i."createdAt"`);
  await client.query('ANALYZE');
  const counts = (await client.query(`SELECT (SELECT count(*) FROM "Image")::int AS images, (SELECT count(*) FROM "Segment")::int AS segments,
    (SELECT count(*) FROM "ImageLabel" WHERE label = 'bird')::int AS birds`)).rows[0];
  await client.end();
  console.log(`\nsearch at scale: seeded ${counts.images} images, ${counts.segments} segments (${counts.birds} images with a bird) in ${(
    (performance.now() - seedStarted) / 1000
  ).toFixed(1)} s`);

  const searches = [
    ['images(labels: ["bird"]) first page + totalCount', '{ images(filter: { labels: ["bird"] }) { totalCount edges { node { id filename } } } }'],
    ['images(labels: ["bird"]) page 2 (cursor)', null],
    ['images(labels: ["person"]) first page + totalCount', '{ images(filter: { labels: ["person"] }) { totalCount edges { node { id } } } }'],
    ['images(labels: ["dog", "car"], ALL) first page', '{ images(filter: { labels: ["dog", "car"] }) { edges { node { id } } } }'],
    ['images() newest first page', '{ images { edges { node { id } } } }'],
    ['labels facets', '{ labels { label imageCount segmentCount } }'],
  ];
  const cursor = (await graphql('{ images(filter: { labels: ["bird"] }) { pageInfo { endCursor } } }')).images.pageInfo.endCursor;
  searches[1][1] = `{ images(filter: { labels: ["bird"] }, after: ${JSON.stringify(cursor)}) { edges { node { id } } } }`;
  console.log(`  (${QUERY_RUNS} runs each over HTTP, after 20 warm-up runs)`);
  for (const [label, query] of searches) {
    const runs = label.startsWith('labels') ? Math.min(QUERY_RUNS, 30) : QUERY_RUNS;
    for (let i = 0; i < 20; i += 1) await graphql(query);
    const times = [];
    for (let i = 0; i < runs; i += 1) {
      const started = performance.now();
      await graphql(query);
      times.push(performance.now() - started);
    }
    console.log(`  ${label.padEnd(52)} p50 ${ms(percentile(times, 50)).padStart(9)}   p95 ${ms(percentile(times, 95)).padStart(9)}`);
  }
} finally {
  await runtime.close();
  await rm(dataDir, { recursive: true, force: true });
  await database.drop();
}

function pgLiteral(text) {
  return `'${text.replaceAll("'", "''")}'`;
}
