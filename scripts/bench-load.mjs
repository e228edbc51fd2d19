// Load test (`npm run bench:load`): a `segcat serve` child on loopback with its own DATA_DIR and
// a scratch database; 200 concurrent uploads (mostly distinct good images, some text and truncated
// files) with `wait: false`, plus search queries at the same time. Prints throughput, p50/p99 and
// the counts of lost (acknowledged but not DONE at the end), duplicated and 5xx responses, then
// the server's RSS before, at peak and after some idle seconds. Bounded: every request has a
// deadline and the run gives up after --max-seconds.
//
//   node scripts/bench-load.mjs [--uploads 200] [--bad-every 5] [--searches 50] [--warm-up 20]
//                               [--settle-seconds 5] [--max-seconds 600]
//
// The test suite runs it tiny (test/benches): --uploads 4 --warm-up 2 --searches 5 --settle-seconds 1.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freePort, makeVariants, percentile, ROOT, scratchDatabase } from './lib/bench-utils.mjs';

const { values } = parseArgs({
  options: {
    uploads: { type: 'string', default: '200' },
    'bad-every': { type: 'string', default: '5' },
    searches: { type: 'string', default: '50' },
    'warm-up': { type: 'string', default: '20' },
    'settle-seconds': { type: 'string', default: '5' },
    'max-seconds': { type: 'string', default: '600' },
  },
});
const uploads = Number(values.uploads);
const badEvery = Number(values['bad-every']);
const searches = Number(values.searches);
const warmUp = Number(values['warm-up']);
const settleSeconds = Number(values['settle-seconds']);
const deadline = Date.now() + Number(values['max-seconds']) * 1000;
const UPLOAD = 'mutation($file: Upload!) { uploadImage(input: { file: $file, wait: false }) { duplicate image { id status } } }';
const SEARCH = '{ images(filter: { labels: ["dog"], match: ANY }, first: 20) { totalCount edges { node { filename labels } } } }';

const work = await mkdtemp(path.join(os.tmpdir(), 'segcat-load-'));
const database = await scratchDatabase('segcat_bench_load');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, [path.join(ROOT, 'bin/segcat.js'), 'serve'], {
  // As `npm start` and the Docker image run it (MALLOC_ARENA_MAX=2, see README), unless set otherwise.
  env: { MALLOC_ARENA_MAX: '2', ...process.env, DATABASE_URL: database.url, DATA_DIR: path.join(work, 'data'), PORT: String(port), LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const serverExited = new Promise((resolve) => server.once('exit', (code, signal) => resolve(code ?? signal)));
try {
  await until(async () => (await fetch(`${base}/health`).catch(() => undefined))?.status === 200, 'the server to start');
  await mkdir(path.join(work, 'images'));
  // Three sets of distinct images: a warm-up, then the same load twice.
  const good = await Promise.all((await makeVariants(path.join(work, 'images'), warmUp + 2 * uploads)).map((file) => readFile(file)));
  const load = (images) =>
    images.map((data, i) =>
      i % badEvery === badEvery - 1
        ? i % (2 * badEvery) === badEvery - 1
          ? { name: `bad-${i}.jpg`, data: Buffer.from('not an image\n'.repeat(100)), bad: true }
          : { name: `cut-${i}.jpg`, data: data.subarray(0, data.length >> 1), bad: true }
        : { name: `good-${i}.jpg`, data, bad: false },
    );
  const rssStart = await rss(server.pid);
  // The first images grow the model's and libvips' working memory to their steady size: that is
  // the baseline to return to, not the size of a server that has not segmented anything yet.
  await runRound(load(good.slice(0, warmUp)), 0);
  await settle();
  const rssBaseline = await rss(server.pid);
  let rssPeak = rssBaseline;
  const sampler = setInterval(async () => (rssPeak = Math.max(rssPeak, await rss(server.pid))), 200);
  const outcome = { lost: 0, duplicates: 0, fivexx: 0, wrong: 0 };
  const after = [];
  for (const [index, images] of [good.slice(warmUp, warmUp + uploads), good.slice(warmUp + uploads)].entries()) {
    const result = await runRound(load(images), searches);
    for (const key of Object.keys(outcome)) outcome[key] += result[key];
    console.log(`round ${index + 1}: ${result.summary}`);
    await settle();
    after.push(await rss(server.pid));
  }
  clearInterval(sampler);
  console.log(
    `server RSS (MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}): at start ${mb(rssStart)}, warm baseline ${mb(rssBaseline)}, peak ${mb(rssPeak)}, ` +
      `after round 1 ${mb(after[0])} (${pct(after[0], rssBaseline)}), after round 2 ${mb(after[1])} (${pct(after[1], rssBaseline)})`,
  );
  process.exitCode = outcome.lost + outcome.duplicates + outcome.fivexx + outcome.wrong === 0 ? 0 : 1;
} finally {
  server.kill('SIGTERM');
  await serverExited;
  await database.drop();
  await rm(work, { recursive: true, force: true });
}

/** Sends all uploads and `searches` queries at once, waits for the queue, and checks the outcome. */
async function runRound(files, searches) {
  const started = performance.now();
  const results = await Promise.all([...files.map(upload), ...Array.from({ length: searches }, search)]);
  const elapsed = (performance.now() - started) / 1000;
  const up = results.filter((r) => r.kind === 'upload');
  const acknowledged = up.filter((r) => !r.file.bad && r.id);
  await until(async () => (await counts()).pending === 0, 'the queue to drain');
  const c = await counts();
  const done = new Set(c.doneIds);
  const lost = acknowledged.filter((r) => !done.has(r.id)).length;
  const wrong = up.filter((r) => (r.file.bad ? r.code !== 'BAD_USER_INPUT' : !r.id)).length;
  const fivexx = results.filter((r) => r.status >= 500).length;
  const latencies = (kind) => results.filter((r) => r.kind === kind).map((r) => r.ms);
  const summary = [
    `${up.length} uploads (${up.filter((r) => r.file.bad).length} bad) + ${results.length - up.length} searches at once, in ${elapsed.toFixed(1)} s: ${(results.length / elapsed).toFixed(1)} requests/s;`,
    `upload p50 ${percentile(latencies('upload'), 50).toFixed(0)} ms, p99 ${percentile(latencies('upload'), 99).toFixed(0)} ms;`,
    searches > 0 ? `search p50 ${percentile(latencies('search'), 50).toFixed(0)} ms, p99 ${percentile(latencies('search'), 99).toFixed(0)} ms;` : '',
    `lost ${lost}, duplicated ${c.duplicates}, 5xx ${fivexx}, wrong answers ${wrong} (rows ${c.rows}, DONE ${c.done})`,
  ].filter(Boolean).join(' ');
  return { lost, duplicates: c.duplicates, fivexx, wrong, summary };
}

/** Some idle seconds (with a health check each), for the server to settle. */
async function settle() {
  for (let i = 0; i < settleSeconds; i += 1) {
    await fetch(`${base}/health`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function pct(value, baseline) {
  const change = (value / baseline - 1) * 100;
  return `${change >= 0 ? '+' : ''}${change.toFixed(0)}% vs baseline`;
}

async function upload(file) {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: UPLOAD, variables: { file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([file.data]), file.name);
  const r = await timed(() => fetch(`${base}/graphql`, { method: 'POST', body: form, headers: { 'apollo-require-preflight': 'true' }, signal: AbortSignal.timeout(120_000) }));
  return { kind: 'upload', file, ...r, id: r.body?.data?.uploadImage?.image?.id, code: r.body?.errors?.[0]?.extensions?.code };
}

async function search() {
  const r = await timed(() => fetch(`${base}/graphql`, { method: 'POST', body: JSON.stringify({ query: SEARCH }), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(120_000) }));
  return { kind: 'search', ...r };
}

async function timed(send) {
  const start = performance.now();
  const response = await send().catch(() => undefined);
  const body = await response?.json().catch(() => undefined);
  return { status: response?.status ?? 599, body, ms: performance.now() - start };
}

async function counts() {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const q = async (sql) => (await client.query(sql)).rows;
    return {
      rows: (await q(`SELECT count(*)::int AS n FROM "Image"`))[0].n,
      done: (await q(`SELECT count(*)::int AS n FROM "Image" WHERE status = 'DONE'`))[0].n,
      pending: (await q(`SELECT count(*)::int AS n FROM "Image" WHERE status IN ('PENDING', 'PROCESSING')`))[0].n,
      duplicates: (await q(`SELECT count(*)::int AS n FROM (SELECT sha256 FROM "Image" GROUP BY sha256 HAVING count(*) > 1) d`))[0].n,
      doneIds: (await q(`SELECT id FROM "Image" WHERE status = 'DONE'`)).map((row) => row.id),
    };
  } finally {
    await client.end();
  }
}

/** Resident set size of a process, in bytes (Linux). */
async function rss(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

function mb(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

async function until(check, what) {
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`the server exited (${server.exitCode ?? server.signalCode}) while waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
