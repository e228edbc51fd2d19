// Load test (`npm run bench:load`): a `segcat serve` child on loopback with its own DATA_DIR and
// a scratch database; 200 concurrent uploads (mostly distinct good images, some text and truncated
// files) with `wait: false`, plus search queries at the same time. Prints throughput, p50/p99 and
// the counts of lost (acknowledged but not DONE at the end), duplicated and 5xx responses, then
// the server's RSS before, at peak and after five idle seconds. Bounded: every request has a
// deadline and the run gives up after --max-seconds.
//
//   node scripts/bench-load.mjs [--uploads 200] [--bad-every 5] [--max-seconds 600]
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
    'max-seconds': { type: 'string', default: '600' },
  },
});
const uploads = Number(values.uploads);
const badEvery = Number(values['bad-every']);
const deadline = Date.now() + Number(values['max-seconds']) * 1000;
const UPLOAD = 'mutation($file: Upload!) { uploadImage(input: { file: $file, wait: false }) { duplicate image { id status } } }';
const SEARCH = '{ images(filter: { labels: ["dog"], match: ANY }, first: 20) { totalCount edges { node { filename labels } } } }';

const work = await mkdtemp(path.join(os.tmpdir(), 'segcat-load-'));
const database = await scratchDatabase('segcat_bench_load');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, [path.join(ROOT, 'bin/segcat.js'), 'serve'], {
  env: { ...process.env, DATABASE_URL: database.url, DATA_DIR: path.join(work, 'data'), PORT: String(port), LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  await until(async () => (await fetch(`${base}/health`).catch(() => undefined))?.status === 200, 'the server to start');
  await mkdir(path.join(work, 'images'));
  const good = await Promise.all((await makeVariants(path.join(work, 'images'), uploads)).map((file) => readFile(file)));
  const files = good.map((data, i) =>
    i % badEvery === badEvery - 1
      ? i % (2 * badEvery) === badEvery - 1
        ? { name: `bad-${i}.jpg`, data: Buffer.from('not an image\n'.repeat(100)), bad: true }
        : { name: `cut-${i}.jpg`, data: data.subarray(0, data.length >> 1), bad: true }
      : { name: `good-${i}.jpg`, data, bad: false },
  );
  const rssBefore = await rss(server.pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(async () => (rssPeak = Math.max(rssPeak, await rss(server.pid))), 200);

  const started = performance.now();
  const results = await Promise.all([...files.map(upload), ...Array.from({ length: 50 }, search)]);
  const elapsed = (performance.now() - started) / 1000;
  const up = results.filter((r) => r.kind === 'upload');
  const acknowledged = up.filter((r) => !r.file.bad && r.id);
  await until(async () => (await counts()).pending === 0, 'the queue to drain');
  clearInterval(sampler);

  const c = await counts();
  const done = new Set(c.doneIds);
  const lost = acknowledged.filter((r) => !done.has(r.id)).length;
  const wrong = up.filter((r) => (r.file.bad ? r.code !== 'BAD_USER_INPUT' : !r.id)).length;
  const fivexx = results.filter((r) => r.status >= 500).length;
  const latencies = (kind) => results.filter((r) => r.kind === kind).map((r) => r.ms);
  console.log(`${up.length} uploads (${up.filter((r) => r.file.bad).length} bad) + ${results.length - up.length} searches at once, in ${elapsed.toFixed(1)} s: ${(results.length / elapsed).toFixed(1)} requests/s`);
  console.log(`upload p50 ${percentile(latencies('upload'), 50).toFixed(0)} ms, p99 ${percentile(latencies('upload'), 99).toFixed(0)} ms; search p50 ${percentile(latencies('search'), 50).toFixed(0)} ms, p99 ${percentile(latencies('search'), 99).toFixed(0)} ms`);
  console.log(`lost ${lost}, duplicated ${c.duplicates}, 5xx ${fivexx}, wrong answers ${wrong} (rows ${c.rows}, DONE ${c.done})`);

  const settle = async () => {
    for (let i = 0; i < 5; i += 1) {
      await fetch(`${base}/health`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
  await settle();
  const rssAfter = await rss(server.pid);
  console.log(`server RSS: before ${mb(rssBefore)}, peak ${mb(rssPeak)}, after 5 s idle ${mb(rssAfter)} (${((rssAfter / rssBefore - 1) * 100).toFixed(0)}% over baseline)`);
  process.exitCode = lost + c.duplicates + fivexx + wrong === 0 ? 0 : 1;
} finally {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await database.drop();
  await rm(work, { recursive: true, force: true });
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
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
