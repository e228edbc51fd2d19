// Scaling out (`npm run bench:scale`): the multi-node setup of docker-compose.yml's `scale` profile,
// on this machine. One S3 server (OpenStack Swift with s3api, scripts/lib/swift-server.mjs), then
// for each N in --workers: a fresh bucket and scratch database, one `segcat serve --no-worker` and
// N `segcat worker --metrics-port` processes, each with its own DATA_DIR (they share nothing but
// PostgreSQL and the bucket). The photos are uploaded over HTTP (`wait: false`, --clients at a
// time) and the clock runs from the first upload to the last image DONE.
//
// Prints, for each N: throughput; lost (acknowledged, not DONE), duplicated (segmented more than
// once, from the workers' logs), FAILED; jobs done per worker (scraped from its /metrics) and the
// database connections open; `segcat check` on the bucket; where the CPU went (seconds per image
// for the API, the workers, Swift, PostgreSQL's backends, the uploading client, and the rest of the
// machine); mean time per segmentation stage; start-up time. Exit code 1 when anything was lost, duplicated, failed or `check` complains.
// A count given twice is run twice and shown as its mean: `--workers 1,2,2,1` evens out a
// background load that drifts during the run.
//
//   node scripts/bench-scale.mjs [--photos 500] [--workers 1,2] [--clients 4] [--max-seconds 1800]
//                                           (needs `npm run build`; --max-seconds bounds each round)
import { spawn } from 'node:child_process';
import { openAsBlob, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { freePort, makeVariants, percentile, ROOT, scratchDatabase, segcatCheck } from './lib/bench-utils.mjs';
import { startSwiftServer } from './lib/swift-server.mjs';

const { values } = parseArgs({
  options: {
    photos: { type: 'string', default: '500' },
    workers: { type: 'string', default: '1,2' },
    clients: { type: 'string', default: '4' },
    'max-seconds': { type: 'string', default: '1800' },
  },
});
const photoCount = positiveInt('--photos', values.photos);
const workerCounts = values.workers.split(',').map((n) => positiveInt('--workers', n));
const clients = positiveInt('--clients', values.clients);
const maxSeconds = positiveInt('--max-seconds', values['max-seconds']);
const UPLOAD = 'mutation ScaleUpload($file: Upload!) { uploadImage(input: { file: $file, wait: false }) { duplicate image { id } } }';
const SEGCAT = path.join(ROOT, 'bin/segcat.js');
const STAGES = ['decode', 'model', 'post', 'files', 'database'];

const work = await mkdtemp(path.join(os.tmpdir(), 'segcat-scale-'));
const loadAtStart = os.loadavg();
let swift;
const rounds = [];
try {
  await mkdir(path.join(work, 'photos'));
  const photos = await makeVariants(path.join(work, 'photos'), photoCount);
  const swiftStarted = performance.now();
  swift = await startSwiftServer();
  console.log(`Swift (s3api) at ${swift.endpoint}, started in ${((performance.now() - swiftStarted) / 1000).toFixed(1)} s; ${photoCount} photos; ${os.cpus().length} cores, load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')} at start`);
  for (const [index, n] of workerCounts.entries()) rounds.push(await runRound(index + 1, n, photos));
} finally {
  await swift?.stop();
  await rm(work, { recursive: true, force: true });
}
// A repeated N (--workers 1,2,2,1 evens out a background load that drifts) is shown as its mean.
const rates = new Map();
for (const r of rounds) rates.set(r.n, [...(rates.get(r.n) ?? []), r.rate]);
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const base = mean(rates.get(rounds[0].n));
const byN = [...rates].map(
  ([n, values]) =>
    `N=${n} ${mean(values).toFixed(2)} images/s` +
    (values.length > 1 ? ` (mean of ${values.map((v) => v.toFixed(2)).join(', ')})` : '') +
    (n === rounds[0].n ? '' : ` (×${(mean(values) / base).toFixed(2)})`),
);
console.log(
  `throughput by workers: ${byN.join(', ')}; ` +
    `load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at end (machine shared with other jobs)`,
);
const ok = rounds.every((r) => r.lost + r.duplicated + r.failed + r.uploadErrors === 0 && r.check === 0);
console.log(ok ? 'OK: every photo segmented exactly once, nothing lost, segcat check clean' : 'FAILED');
process.exitCode = ok ? 0 : 1;

/** Round `index`: one API and `n` workers on a fresh bucket and database; uploads every photo and waits for DONE. */
async function runRound(index, n, photos) {
  const database = await scratchDatabase(`segcat_bench_scale_${index}`);
  const bucket = `segcat-scale-${index}`;
  const s3 = new S3Client({ endpoint: swift.endpoint, region: swift.region, forcePathStyle: true, credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey } });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  const dir = path.join(work, `round-${index}`);
  const env = {
    ...process.env,
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    DATABASE_URL: database.url,
    ...swift.settings(bucket),
  };
  const port = await freePort();
  const metricsPorts = [];
  for (let i = 0; i < n; i += 1) metricsPorts.push(await freePort());
  const launched = performance.now();
  // All at once, as `docker compose --profile scale up` starts them: migrations and the claim of
  // the bucket for this database's catalogue are safe to race.
  const api = startProcess(['serve', '--no-worker'], { ...env, PORT: String(port), DATA_DIR: path.join(dir, 'api'), LOG_LEVEL: 'warn' });
  const workers = metricsPorts.map((metricsPort, i) =>
    Object.assign(startProcess(['worker', '--metrics-port', String(metricsPort)], { ...env, DATA_DIR: path.join(dir, `worker-${i + 1}`), LOG_LEVEL: 'info' }), {
      name: `worker ${i + 1}`,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    }),
  );
  const deadline = Date.now() + maxSeconds * 1000;
  try {
    const alive = () => [api, ...workers].find((p) => p.exited) && 'a segcat process exited';
    await until(() => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false), 'the API to start', deadline, alive);
    for (const worker of workers) await until(() => scrape(worker.metricsUrl).then(() => true, () => false), `${worker.name} to start`, deadline, alive);
    const startUp = `the API and ${n === 1 ? 'the worker' : `${n} workers`}, started together, all ready in ${((performance.now() - launched) / 1000).toFixed(1)} s`;

    const dbName = new URL(database.url).pathname.slice(1);
    const cpuBefore = cpuSample(api, workers, dbName);
    const started = performance.now();
    const uploads = await uploadAll(photos, port, deadline);
    const uploadedSeconds = (performance.now() - started) / 1000;
    let counts;
    await until(async () => (counts = await statusCounts(database.url)).unfinished === 0, 'every image to be segmented', deadline, alive);
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuUsed(cpuBefore, cpuSample(api, workers, dbName));
    const metrics = await Promise.all(workers.map((worker) => scrape(worker.metricsUrl)));

    const ids = uploads.map((u) => u.id).filter(Boolean);
    const done = new Set(counts.doneIds);
    const segmented = workers.flatMap((worker) => worker.segmented);
    const round = {
      n,
      rate: ids.length / seconds,
      lost: ids.filter((id) => !done.has(id)).length,
      duplicated: segmented.length - new Set(segmented).size,
      failed: counts.failed,
      uploadErrors: uploads.filter((u) => !u.id).length,
    };
    console.log(
      `N=${n}: ${ids.length} photos uploaded in ${uploadedSeconds.toFixed(1)} s (upload p50 ${percentile(uploads.map((u) => u.ms), 50).toFixed(0)} ms), ` +
        `all DONE in ${seconds.toFixed(1)} s: ${round.rate.toFixed(2)} images/s; ` +
        `lost ${round.lost}, duplicated ${round.duplicated}, FAILED ${round.failed}, upload errors ${round.uploadErrors}`,
    );
    for (const error of new Set(uploads.map((u) => u.error).filter(Boolean))) console.log(`  upload error: ${error}`);
    console.log(
      `  jobs done per worker (its /metrics): ${workers.map((w, i) => `${w.name} ${sumOf(metrics[i], 'segcat_jobs_total', { outcome: 'done' })}`).join(', ')}; ` +
        `${cpu.connections} PostgreSQL connections open at the end`,
    );
    console.log(
      `  CPU seconds per image: ${Object.entries(cpu.byPart).map(([part, s]) => `${part} ${(s / ids.length).toFixed(3)}`).join(', ')}; ` +
        `machine ${Math.round(cpu.busyShare * 100)}% busy over the run, ${Math.round(cpu.othersShare * 100)}% of it by other jobs`,
    );
    const stageMs = (stage) => (1000 * sumAll(metrics, 'segcat_segmentation_stage_seconds_sum', { stage })) / sumAll(metrics, 'segcat_segmentation_stage_seconds_count', { stage });
    console.log(`  mean ms per image by stage (workers' /metrics): ${STAGES.map((stage) => `${stage} ${stageMs(stage).toFixed(0)}`).join(', ')}`);
    await stopAll([...workers, api]);
    const checkStarted = performance.now();
    const check = await segcatCheck({ ...env, DATA_DIR: path.join(dir, 'check') });
    round.check = check.code;
    console.log(`  segcat check: exit ${check.code}, ${check.output.trim().split('\n').at(-1)} (${((performance.now() - checkStarted) / 1000).toFixed(1)} s)`);
    console.log(`  start-up: ${startUp}`);
    return round;
  } finally {
    await stopAll([...workers, api]);
    await database.drop();
  }
}

/** A `segcat` child; a worker's `image segmented` log lines are collected, warnings and errors passed on. */
function startProcess(args, env) {
  const child = spawn(process.execPath, [SEGCAT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { child, pid: child.pid, segmented: [], exited: false };
  proc.exit = new Promise((resolve) => child.once('exit', () => resolve((proc.exited = true))));
  createInterface({ input: child.stderr }).on('line', (line) => /^segcat (is serving on|metrics at) /.test(line) || process.stderr.write(`${line}\n`));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      return void process.stderr.write(`${line}\n`);
    }
    if (entry.msg === 'image segmented') proc.segmented.push(entry.imageId);
    else if (entry.level >= 40) process.stderr.write(`${line}\n`);
  });
  return proc;
}

async function stopAll(procs) {
  for (const proc of procs) if (!proc.exited) proc.child.kill('SIGTERM');
  const timer = setTimeout(() => procs.forEach((proc) => proc.exited || proc.child.kill('SIGKILL')), 30_000);
  await Promise.all(procs.map((proc) => proc.exit));
  clearTimeout(timer);
}

/** Every photo through POST /graphql, `clients` requests at a time; each one's id (or error) and time. */
async function uploadAll(files, port, deadline) {
  const results = [];
  let next = 0;
  const client = async () => {
    while (next < files.length) {
      const file = files[next++];
      const form = new FormData();
      form.append('operations', JSON.stringify({ query: UPLOAD, variables: { file: null } }));
      form.append('map', JSON.stringify({ 0: ['variables.file'] }));
      form.append('0', await openAsBlob(file), path.basename(file));
      const start = performance.now();
      const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', body: form, headers: { 'apollo-require-preflight': 'true' }, signal }).catch((error) => error);
      const body = response instanceof Response ? await response.json().catch(() => undefined) : undefined;
      const id = body?.data?.uploadImage?.image?.id;
      const error = id ? undefined : (body?.errors?.[0]?.message ?? (response instanceof Error ? response.message : `HTTP ${response.status}`));
      results.push({ id, error, ms: performance.now() - start });
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return results;
}

async function statusCounts(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT id, status FROM "Image"`);
    return {
      unfinished: rows.filter((r) => r.status === 'PENDING' || r.status === 'PROCESSING').length,
      failed: rows.filter((r) => r.status === 'FAILED').length,
      doneIds: rows.filter((r) => r.status === 'DONE').map((r) => r.id),
    };
  } finally {
    await client.end();
  }
}

/** A /metrics scrape as samples: { name, labels, value }. */
async function scrape(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.text())
    .split('\n')
    .map((line) => /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line))
    .filter(Boolean)
    .map(([, name, labels = '', value]) => ({ name, labels: Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]])), value: Number(value) }));
}

function sumOf(samples, name, labels) {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

function sumAll(scrapes, name, labels) {
  return scrapes.reduce((sum, samples) => sum + sumOf(samples, name, labels), 0);
}

/**
 * CPU ticks used so far by each part, per process (from /proc): Swift's processes are those
 * started from its folder, PostgreSQL's the backends connected to this round's database.
 */
function cpuSample(api, workers, dbName) {
  const parts = { API: {}, workers: {}, Swift: {}, PostgreSQL: {} };
  parts.API[api.pid] = ticks(api.pid);
  for (const worker of workers) parts.workers[worker.pid] = ticks(worker.pid);
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      // Swift's servers are started with their configuration file in its folder (and move to /);
      // memcached is started in that folder.
      if (command.includes(swift.dir) || readlinkSync(`/proc/${pid}/cwd`) === swift.dir) parts.Swift[pid] = ticks(pid);
      else if (command.startsWith('postgres: ') && command.includes(` ${dbName} `)) parts.PostgreSQL[pid] = ticks(pid);
    } catch {
      // gone meanwhile
    }
  }
  const [user, nice, system, idle, iowait, irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { parts, client: process.cpuUsage(), busy: user + nice + system + irq + softirq, total: user + nice + system + idle + iowait + irq + softirq };
}

/** CPU seconds each part used between two samples, how busy the whole machine was, and the database connections open at the second. */
function cpuUsed(before, after) {
  const HZ = 100; // USER_HZ, the unit of /proc's CPU times on Linux
  const byPart = {};
  for (const [part, pids] of Object.entries(after.parts)) {
    byPart[part] = Object.entries(pids).reduce((sum, [pid, t]) => sum + t - (before.parts[part][pid] ?? 0), 0) / HZ;
  }
  const client = process.cpuUsage(before.client);
  byPart['bench client'] = (client.user + client.system) / 1e6;
  const ours = Object.values(byPart).reduce((a, b) => a + b, 0);
  const busy = (after.busy - before.busy) / HZ;
  const total = (after.total - before.total) / HZ;
  return { byPart, busyShare: busy / total, othersShare: Math.max(0, busy - ours) / busy, connections: Object.keys(after.parts.PostgreSQL).length };
}

function ticks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function until(check, what, deadline, failed) {
  while (!(await check())) {
    const why = failed() || (Date.now() > deadline && `${maxSeconds} s passed`);
    if (why) throw new Error(`${why} while waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function positiveInt(name, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} expects a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}
