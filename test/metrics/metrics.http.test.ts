/**
 * GET /metrics as Prometheus scrapes it, from real processes: a `segcat serve --no-worker` (its
 * own database, the real model) that receives an import, and a worker that then segments it,
 * scraped on its own metrics port. The queue gauges must show the work waiting, then done; the
 * worker's counters and stage timings must count it; every scrape must parse strictly; and
 * metrics are read like the catalogue: with SEGCAT_READ_KEY set, not without a key.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { runSegcat } from '../support/cli.js';
import { freePort, photo, startTestServer, type TestServer } from '../support/server.js';
import { parseExposition, valueOf, type Family } from './exposition.js';

const READ_KEY = 'metrics-test-read-key';
const API_KEY = 'metrics-test-api-key';
const KEYS = { SEGCAT_READ_KEY: READ_KEY, SEGCAT_API_KEY: API_KEY };
const STAGES = ['decode', 'model', 'post', 'files', 'database'];

let server: TestServer;
let worker: Runtime | undefined;

beforeAll(async () => {
  server = await startTestServer({ ...KEYS, SEGCAT_EMBEDDED_WORKER: 'false' });
});

afterAll(async () => {
  await worker?.close();
  await server?.stop();
});

type Families = Map<string, Family>;

async function scrape(url: string, key = READ_KEY): Promise<Families> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${body}`);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
  return parseExposition(body);
}

/** Scrapes until `ready` holds (the queue's counts are reused for a few seconds), at most a minute. */
async function scrapeUntil(url: string, ready: (families: Families) => boolean): Promise<Families> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const families = await scrape(url);
    if (ready(families)) return families;
    if (Date.now() > deadline) throw new Error(`the scrape never showed what was awaited:\n${JSON.stringify([...families.entries()].filter(([name]) => name.startsWith('segcat_queue')))}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const images = (families: Families, status: string) => valueOf(families, 'segcat_queue_images', { status });
const jobs = (families: Families, state: string) => valueOf(families, 'segcat_queue_jobs', { task: 'segment_image', state });

it('answers 401 without a read key, and the metrics to the read key, the API key and a read session', async () => {
  const url = `${server.url}/metrics`;
  const bare = await fetch(url);
  expect(bare.status).toBe(401);
  expect(bare.headers.get('www-authenticate')).toBe('Bearer');
  expect(await bare.json()).toEqual({ error: expect.stringMatching(/SEGCAT_READ_KEY/) });
  expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  await scrape(url, READ_KEY);
  await scrape(url, API_KEY);
  const session = await fetch(`${server.url}/session`, { method: 'POST', headers: { authorization: `Bearer ${READ_KEY}` } });
  const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
  expect((await fetch(url, { headers: { cookie } })).status).toBe(200);
});

it('shows an import waiting in the queue gauges, then done once a worker has segmented it', async () => {
  const url = `${server.url}/metrics`;
  const before = await scrape(url);
  expect(images(before, 'PENDING')).toBe(0);
  expect(jobs(before, 'waiting')).toBe(0);
  expect(valueOf(before, 'segcat_data_dir_free_bytes')).toBeGreaterThan(0);
  expect(valueOf(before, 'segcat_db_pool_connections', { pool: 'prisma' })).toBeDefined();
  expect(valueOf(before, 'segcat_db_pool_max_connections', { pool: 'prisma' })).toBe(10);

  const names = ['dog.jpg', 'eagle.jpg', 'horses.jpg', 'kite.jpg'];
  const files = await Promise.all(names.map(async (name) => ({ variable: `files.${names.indexOf(name)}`, name, data: await photo(name) })));
  const upload = await server.upload(
    'mutation ImportPhotos($files: [Upload!]!) { uploadImages(input: { files: $files, wait: false }) { results { image { id status } } } }',
    files,
    { files: names.map(() => null) },
    { authorization: `Bearer ${API_KEY}` },
  );
  const uploaded: { id: string; status: string }[] = upload.data.uploadImages.results.map((result: { image: unknown }) => result.image);
  expect(uploaded.map((image) => image.status)).toEqual(['PENDING', 'PENDING', 'PENDING', 'PENDING']);
  // The kite's original goes missing before its turn: its job fails the image.
  const kite = await server.runtime.database.prisma.image.findUniqueOrThrow({ where: { id: uploaded[3]!.id } });
  await rm(path.join(server.dataDir, kite.storagePath));

  const waiting = await scrapeUntil(url, (families) => images(families, 'PENDING') === 4);
  expect(jobs(waiting, 'waiting')).toBe(4);
  expect(jobs(waiting, 'running')).toBe(0);
  expect(valueOf(waiting, 'segcat_upload_bytes_total')).toBe(files.reduce((sum, file) => sum + file.data.length, 0));
  expect(valueOf(waiting, 'segcat_graphql_request_duration_seconds_count', { operation: 'ImportPhotos', type: 'mutation' })).toBe(1);
  // The server runs no worker: it counts no jobs.
  expect(waiting.get('segcat_jobs_total')!.samples).toEqual([]);

  const config = loadConfig({ ...KEYS, DATABASE_URL: server.databaseUrl, DATA_DIR: server.dataDir, LOG_LEVEL: 'silent', NODE_ENV: 'test' });
  worker = await startRuntime(config, { http: false, worker: true, metricsPort: 0 });
  const done = await scrapeUntil(url, (families) => images(families, 'PENDING') === 0 && images(families, 'PROCESSING') === 0);
  expect(images(done, 'FAILED')).toBe(1);
  expect(jobs(done, 'waiting')! + jobs(done, 'running')! + jobs(done, 'retrying')! + jobs(done, 'failed')!).toBe(0);

  const workerUrl = worker.metricsUrl!;
  expect(workerUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const counted = await scrape(workerUrl);
  expect(valueOf(counted, 'segcat_jobs_total', { task: 'segment_image', outcome: 'done' })).toBe(3);
  expect(valueOf(counted, 'segcat_jobs_total', { task: 'segment_image', outcome: 'failed' })).toBe(1);
  for (const stage of STAGES) expect(valueOf(counted, 'segcat_segmentation_stage_seconds_count', { stage })).toBe(3);
  expect(valueOf(counted, 'segcat_segmentation_stage_seconds_sum', { stage: 'model' })).toBeGreaterThan(0);
  const model = worker.models.current.model;
  expect(valueOf(counted, 'segcat_model_info', { name: model.name, version: model.version })).toBe(1);
  expect(valueOf(counted, 'segcat_db_pool_max_connections', { pool: 'queue' })).toBe(config.workerConcurrency + 2);
  expect(valueOf(counted, 'segcat_db_pool_connections', { pool: 'queue' })).toBeGreaterThanOrEqual(1);
  expect(images(counted, 'FAILED')).toBe(1);
});

it("guards the worker's metrics port like reads, and serves nothing else there", async () => {
  expect(worker?.metricsUrl).toBeDefined();
  const url = worker!.metricsUrl!;
  expect((await fetch(url)).status).toBe(401);
  const other = await fetch(url.replace(/\/metrics$/, '/graphql'), { headers: { authorization: `Bearer ${READ_KEY}` } });
  expect(other.status).toBe(404);
  await scrape(url);
});

it('`segcat worker --metrics-port` serves the metrics until SIGTERM, and refuses a port that is not one', async () => {
  const refused = await runSegcat(['worker', '--metrics-port', 'nine'], { DATABASE_URL: server.databaseUrl, DATA_DIR: server.dataDir });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/--metrics-port.*expected a port number from 0 to 65535, got "nine"/);

  const port = await freePort();
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'segcat.js'), 'worker', '--metrics-port', String(port)], {
    env: { ...process.env, ...KEYS, DATABASE_URL: server.databaseUrl, DATA_DIR: server.dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'test' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 60_000;
    while (!stderr.includes('segcat metrics at')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the worker did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stderr).toContain(`segcat metrics at http://127.0.0.1:${port}/metrics`);
    const families = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(families.get('segcat_model_info')!.samples).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }
});
