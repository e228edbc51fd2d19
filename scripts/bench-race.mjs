#!/usr/bin/env node
// npm run bench:race [-- --trials 30] — two `segcat serve` processes on one scratch database and
// one DATA_DIR, the README's scale-out setup:
//   1. delete an image on A, kept busy decoding other uploads, while the same bytes go to B;
//   2. cut out every segment of an image on A while B deletes the image;
//   3. delete an image on A while a worker is segmenting it.
// Then, with the servers stopped, it compares rows and files both ways. Prints the trials, lost
// (an upload answered with a new image that is then missing, not DONE, or without its original
// or thumbnail), orphans (files and folders without a row), rows pointing to missing files,
// cut-outs served after their image was deleted, segmentation jobs that failed, and 5xx answers;
// exits non-zero if any is not 0. Uses dist/ (`npm run bench:race` builds it first).
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import sharp from 'sharp';
import { FIXTURE_PHOTOS, freePort, listFiles, ROOT, scratchDatabase, segcatCheck } from './lib/bench-utils.mjs';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '30' }, 'max-seconds': { type: 'string', default: '900' } } });
const trials = Number(values.trials);
const deadline = Date.now() + Number(values['max-seconds']) * 1000;
const UPLOAD = 'mutation($file: Upload!, $wait: Boolean) { uploadImage(input: { file: $file, wait: $wait }) { duplicate image { id status } } }';
const DELETE = 'mutation($id: ID!) { deleteImage(input: { id: $id }) { id } }';
const EXTRACT = 'mutation($id: ID!) { extractSegments(input: { imageId: $id, minScore: 0, background: WHITE, format: WEBP }) { extractions { id } } }';
const IMAGE = 'query($id: ID!) { image(id: $id) { status url thumbnailUrl segments { id } } }';
const BUSY_STREAMS = 4;
/** Where segcat announces image changes (src/db/image-events.ts). */
const IMAGE_EVENTS_CHANNEL = 'segcat_image_events';

const work = await mkdtemp(path.join(os.tmpdir(), 'segcat-race-'));
const dataDir = path.join(work, 'data');
const database = await scratchDatabase('segcat_bench_race');
const servers = [];
const tally = { answers: 0, fivexx: 0 };
try {
  // A does its file work and image decoding on one libuv thread: a busy server, where a removal
  // waits its turn behind the images being decoded.
  const a = await startServer('A', { UV_THREADPOOL_SIZE: '1' });
  const b = await startServer('B');
  // A small picture, so that B receives and checks it about as fast as A removes files.
  const dog = await sharp(path.join(FIXTURE_PHOTOS, 'dog.jpg')).resize(96).jpeg().toBuffer();
  const horses = await readFile(path.join(FIXTURE_PHOTOS, 'horses.jpg'));
  const person = await readFile(path.join(FIXTURE_PHOTOS, 'person.jpg'));
  // While it deletes, A keeps decoding large uploads, BUSY_STREAMS at a time: truncated, so each
  // is decoded almost to the end and then refused, leaving no row and no job behind.
  const large = await sharp(path.join(FIXTURE_PHOTOS, 'horses.jpg')).resize(3000).jpeg().toBuffer();
  const truncated = large.subarray(0, Math.floor(large.length * 0.95));
  let busy = true;
  const busyLoop = Promise.all(
    Array.from({ length: BUSY_STREAMS }, async () => {
      while (busy) await upload(a, 'large.jpg', truncated, false);
    }),
  );

  // 1. Delete on A, the same bytes to B, sent the moment A's deletion of the row commits (its
  // notification arrives), while A has yet to remove the files. The upload may still be answered
  // as a duplicate of the image being deleted, which then goes; if it makes a new image, that must
  // end DONE with its files.
  const events = new pg.Client({ connectionString: database.url });
  await events.connect();
  await events.query(`LISTEN ${IMAGE_EVENTS_CHANNEL}`);
  let lost = 0;
  let reuploaded = 0;
  for (let trial = 0; trial < trials; trial += 1) {
    const first = await upload(a, 'dog.jpg', dog, true);
    const rowDeleted = new Promise((resolve) => {
      const listener = (message) => {
        if (message.payload !== JSON.stringify({ id: first.id, status: 'DELETED' })) return;
        events.off('notification', listener);
        resolve();
      };
      events.on('notification', listener);
    });
    const [, second] = await Promise.all([graphql(a, DELETE, { id: first.id }), rowDeleted.then(() => upload(b, 'dog.jpg', dog, false))]);
    if (!second.id || second.id === first.id) continue;
    reuploaded += 1;
    if (!(await intact(b, second.id))) lost += 1;
  }
  await events.end();
  busy = false;
  await busyLoop;
  console.log(`delete on A + upload of the same bytes to B: ${trials} trials, ${reuploaded} answered with a new image, lost ${lost}`);

  // 2. Cut-outs on A while B deletes the image.
  let served = 0;
  const extracted = { ok: 0, notFound: 0, other: 0 };
  for (let trial = 0; trial < trials; trial += 1) {
    const image = await upload(a, 'horses.jpg', horses, true);
    const segments = (await graphql(a, IMAGE, { id: image.id })).body?.data?.image?.segments ?? [];
    const [cut] = await Promise.all([graphql(a, EXTRACT, { id: image.id }), sleep((trial % 10) * 25).then(() => graphql(b, DELETE, { id: image.id }))]);
    const code = cut.body?.errors?.[0]?.extensions?.code;
    if (!code) extracted.ok += 1;
    else if (code === 'NOT_FOUND') extracted.notFound += 1;
    else extracted.other += 1;
    for (const segment of segments) {
      if ((await fetch(`${a.url}/files/cutouts/${segment.id}/white.webp`)).status !== 404) served += 1;
    }
  }
  console.log(
    `cut-outs on A while B deletes: ${trials} trials, ${extracted.ok} cut out, ${extracted.notFound} NOT_FOUND, ${extracted.other} other errors; ` +
      `cut-outs still served after the delete ${served}`,
  );

  // 3. Delete on A while a worker segments the image.
  const deleted = { whileSegmenting: 0, errors: 0 };
  for (let trial = 0; trial < trials; trial += 1) {
    const image = await upload(b, 'person.jpg', person, false);
    await until(async () => (await graphql(a, IMAGE, { id: image.id })).body?.data?.image?.status !== 'PENDING', 'segmentation to start');
    await sleep((trial % 5) * 10);
    const status = (await graphql(a, IMAGE, { id: image.id })).body?.data?.image?.status;
    const answer = await graphql(a, DELETE, { id: image.id });
    if (answer.body?.errors) deleted.errors += 1;
    if (status === 'PROCESSING') deleted.whileSegmenting += 1;
  }
  console.log(`delete on A during segmentation: ${trials} trials, ${deleted.whileSegmenting} still PROCESSING just before, delete errors ${deleted.errors}`);

  // Drained when no job is waiting or running; a job that failed for good stays, with its error.
  await until(
    async () => (await query(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE attempts < max_attempts OR locked_at IS NOT NULL`))[0].n === 0,
    'the queue to drain',
  );
  const failedJobs = (await query(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs`))[0].n;
  for (const server of servers) await stopServer(server);
  const { missing, orphans } = await compareRowsAndFiles();
  const check = await segcatCheck({ DATABASE_URL: database.url, DATA_DIR: dataDir });
  const bad = lost + extracted.other + served + deleted.errors + failedJobs + missing.length + orphans.length + tally.fivexx + check.code;
  console.log(
    `trials ${3 * trials}, lost ${lost}, orphans ${orphans.length} (files and folders without a row), rows pointing to missing files ${missing.length}, ` +
      `failed jobs ${failedJobs}, 5xx ${tally.fivexx} of ${tally.answers} answers`,
  );
  for (const file of [...orphans, ...missing].slice(0, 10)) console.log(`  ${file}`);
  console.log(`segcat check: exit ${check.code}, ${check.output.trim().split('\n')[0]}`);
  process.exitCode = bad === 0 ? 0 : 1;
} finally {
  for (const server of servers) await stopServer(server);
  await database.drop();
  await rm(work, { recursive: true, force: true });
}

async function startServer(name, env = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/segcat.js'), 'serve'], {
    env: { ...process.env, DATABASE_URL: database.url, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const server = { name, child, url: `http://127.0.0.1:${port}`, exited: new Promise((resolve) => child.once('exit', resolve)) };
  servers.push(server);
  await until(async () => (await fetch(`${server.url}/health`).catch(() => undefined))?.status === 200, `server ${name} to start`);
  return server;
}

async function stopServer(server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

/** Waits for an image to settle; true when it is DONE and its original and thumbnail are served. */
async function intact(server, id) {
  let image;
  await until(async () => {
    image = (await graphql(server, IMAGE, { id })).body?.data?.image;
    return !image || image.status === 'DONE' || image.status === 'FAILED';
  }, `image ${id} to settle`);
  if (image?.status !== 'DONE') return false;
  const statuses = await Promise.all([image.url, image.thumbnailUrl].map(async (url) => (await fetch(url)).status));
  return statuses.every((status) => status === 200);
}

/** Rows pointing to missing files, and files or folders (masks, cut-outs, overlays) no row accounts for. */
async function compareRowsAndFiles() {
  const referenced = new Set(
    (
      await query(`SELECT "storagePath" AS path FROM "Image"
        UNION ALL SELECT "thumbnailPath" FROM "Image" WHERE "thumbnailPath" IS NOT NULL
        UNION ALL SELECT "backgroundMaskPath" FROM "Image" WHERE "backgroundMaskPath" IS NOT NULL
        UNION ALL SELECT "maskPath" FROM "Segment"
        UNION ALL SELECT path FROM "Extraction"`)
    ).map((row) => row.path),
  );
  const images = new Set((await query(`SELECT id::text FROM "Image"`)).map((row) => row.id));
  const segments = new Set((await query(`SELECT id::text FROM "Segment"`)).map((row) => row.id));
  const files = (await listFiles(dataDir)).filter((file) => /^(originals|thumbnails|masks|cutouts)\//.test(file));
  const orphans = files.filter((file) => !referenced.has(file));
  for (const [root, owners] of [['masks', images], ['overlays', images], ['cutouts', segments]]) {
    const folders = await readdir(path.join(dataDir, root)).catch(() => []);
    orphans.push(...folders.filter((folder) => !owners.has(folder)).map((folder) => `${root}/${folder}/`));
  }
  const present = new Set(files);
  return { missing: [...referenced].filter((file) => !present.has(file)), orphans };
}

async function query(sql) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function upload(server, name, data, wait) {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: UPLOAD, variables: { file: null, wait } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([data]), name);
  const answer = await send(server, form, {});
  return { id: answer.body?.data?.uploadImage?.image?.id, duplicate: answer.body?.data?.uploadImage?.duplicate };
}

function graphql(server, query, variables) {
  return send(server, JSON.stringify({ query, variables }), { 'content-type': 'application/json' });
}

/** POSTs to /graphql and counts the answer, and any 5xx (a GraphQL INTERNAL_SERVER_ERROR is one). */
async function send(server, body, headers) {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    body,
    headers: { 'apollo-require-preflight': 'true', ...headers },
    signal: AbortSignal.timeout(120_000),
  }).catch(() => undefined);
  const parsed = await response?.json().catch(() => undefined);
  tally.answers += 1;
  const internal = parsed?.errors?.some((error) => error.extensions?.code === 'INTERNAL_SERVER_ERROR');
  if (!response || response.status >= 500 || internal) {
    tally.fivexx += 1;
    console.error(`${server.name}: ${response?.status ?? 'no answer'} ${JSON.stringify(parsed?.errors ?? [])}`);
  }
  return { status: response?.status ?? 599, body: parsed };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(check, what) {
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}
