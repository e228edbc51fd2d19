#!/usr/bin/env node
// npm run bench:workers [-- N] [--max-seconds S] — two `segcat worker` processes drain a queue of
// N generated images (default 200) on one database. Prints how many each worker segmented, whether
// any image was segmented twice, and the drain rate. Gives up (exit 1) when both workers have
// exited or after S seconds (default 1800) with the queue not drained. Run `npm run build` first.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { makeVariants, ROOT, scratchDatabase } from './lib/bench-utils.mjs';

const { loadConfig } = await import(path.join(ROOT, 'dist/config.js'));
const { startRuntime, createCommandLogger } = await import(path.join(ROOT, 'dist/runtime.js'));

const { values, positionals } = parseArgs({ options: { 'max-seconds': { type: 'string', default: '1800' } }, allowPositionals: true });
const count = Number(positionals[0] ?? 200);
const deadline = Date.now() + Number(values['max-seconds']) * 1000;
const workDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-two-workers-'));
const database = await scratchDatabase('segcat_bench_workers');
const dataDir = path.join(workDir, 'data');
const env = { ...process.env, DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'info', SEGCAT_WORKER_CONCURRENCY: '1' };

function startWorker(name) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/segcat.js'), 'worker'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const segmented = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const entry = JSON.parse(line);
      if (entry.msg === 'image segmented') segmented.push(entry.imageId);
    } catch {
      // not a log line
    }
  });
  const worker = { name, child, segmented, running: true };
  worker.exited = new Promise((resolve) =>
    child.on('exit', (code) => {
      worker.running = false;
      resolve(code);
    }),
  );
  return worker;
}

try {
  await mkdir(path.join(workDir, 'photos'));
  const files = await makeVariants(path.join(workDir, 'photos'), count);
  // Queue everything first, with no worker running, so that both workers start on a full queue.
  const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
  const producer = await startRuntime(config, { http: false, worker: false, logger: createCommandLogger(config) });
  const ids = [];
  for (const file of files) {
    const { image } = await producer.services.ingest.ingest({ filename: path.basename(file), stream: createReadStream(file) }, { wait: false });
    ids.push(image.id);
  }
  console.log(`queued ${ids.length} images; starting two \`segcat worker\` processes`);
  const started = performance.now();
  const workers = [startWorker('worker A'), startWorker('worker B')];
  try {
    for (;;) {
      const counts = await producer.services.queue.counts();
      if (counts.done + counts.failed === ids.length) break;
      const why = workers.every((worker) => !worker.running) ? 'both workers exited' : Date.now() > deadline ? `${values['max-seconds']} s passed` : undefined;
      if (why) throw new Error(`${why} with the queue not drained: ${JSON.stringify(counts)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } catch (error) {
    for (const worker of workers) worker.child.kill('SIGTERM');
    await Promise.all(workers.map((worker) => worker.exited));
    await producer.close();
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  const counts = await producer.services.queue.counts();
  await producer.close();
  for (const worker of workers) worker.child.kill('SIGTERM');
  await Promise.all(workers.map((worker) => worker.exited));
  const all = workers.flatMap((worker) => worker.segmented);
  const twice = all.length - new Set(all).size;
  const missing = ids.filter((id) => !all.includes(id)).length;
  for (const worker of workers) console.log(`${worker.name}: segmented ${worker.segmented.length}`);
  console.log(`DONE ${counts.done}, FAILED ${counts.failed}; segmented twice: ${twice}; never segmented: ${missing}`);
  console.log(`drained in ${seconds.toFixed(1)} s (${(ids.length / seconds).toFixed(1)} images/s, including worker start-up)`);
  process.exitCode = twice === 0 && missing === 0 && counts.failed === 0 ? 0 : 1;
} finally {
  await database.drop();
  await rm(workDir, { recursive: true, force: true });
}
