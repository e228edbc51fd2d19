#!/usr/bin/env node
// npm run bench:ingest [-- N] — bulk ingestion throughput, as `segcat import` does it.
//
// Makes N distinct photos (default 200) from ../shared/images by crops, flips and scales (so their
// hashes differ), imports them into a scratch database with the in-process worker, and prints
// images/s, p50/p95 per image (job start → DONE), peak RSS, and the ratio of ingest throughput
// to model-only throughput (the same images, nothing but the model's run, back to back).
//
// MATRIX=1 repeats the import for worker concurrency × onnxruntime threads, to choose defaults.
// Uses BENCH_DATABASE_URL, else TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test
// (a scratch database `segcat_bench_ingest` is created and dropped). Run `npm run build` first.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import sharp from 'sharp';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { loadConfig } = await import(path.join(root, 'dist/config.js'));
const { startRuntime } = await import(path.join(root, 'dist/runtime.js'));
const { createSegmenter } = await import(path.join(root, 'dist/vision/segmenter.js'));

const count = Number(process.argv[2] ?? process.env.N ?? 200);
const sourceDir = path.join(root, '..', 'shared', 'images');
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const dbName = 'segcat_bench_ingest';
const dbUrl = (() => {
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  return url.toString();
})();

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

async function admin(sql) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** N distinct JPEGs: each source photo cropped, flipped and scaled a little differently. */
async function makeVariants(dir) {
  const sources = (await readdir(sourceDir)).filter((name) => name.endsWith('.jpg')).sort();
  const files = [];
  for (let i = 0; i < count; i += 1) {
    const source = path.join(sourceDir, sources[i % sources.length]);
    const { width, height } = await sharp(source).metadata();
    const k = Math.floor(i / sources.length);
    const crop = 1 - (k % 6) * 0.03;
    const scale = 1 - (k % 4) * 0.08;
    const w = Math.round(width * crop);
    const h = Math.round(height * crop);
    const file = path.join(dir, `variant-${String(i).padStart(5, '0')}.jpg`);
    await sharp(source)
      .extract({ left: Math.round((width - w) / 2), top: Math.round((height - h) / 2), width: w, height: h })
      .flop(k % 2 === 1)
      .resize(Math.round(w * scale))
      .jpeg({ quality: 88 })
      .toFile(file);
    files.push(file);
  }
  return files;
}

/** Images per second when the machine does nothing but run the model on these images. */
async function modelOnlyThroughput(files, threads) {
  const segmenter = await createSegmenter(loadConfig({ SEGCAT_ONNX_THREADS: String(threads), LOG_LEVEL: 'silent' }));
  const sample = files.slice(0, Math.min(files.length, 60));
  await segmenter.segment(sample[0]);
  let inference = 0;
  for (const file of sample) inference += (await segmenter.segment(file)).timings.inferenceMs;
  await segmenter.close();
  return sample.length / (inference / 1000);
}

async function importOnce(files, dataDir, env) {
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${dbName}`);
  const perImage = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const entry = JSON.parse(line);
        if (entry.msg === 'image segmented') perImage.push(entry.ms);
      }
      callback();
    },
  });
  const config = loadConfig({ DATABASE_URL: dbUrl, DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env });
  const runtime = await startRuntime(config, { http: false, worker: true, logger: pino({ level: 'info' }, sink) });
  try {
    const started = performance.now();
    const summary = await runtime.services.importer.importFiles(files, () => undefined);
    const seconds = (performance.now() - started) / 1000;
    if (summary.failed > 0) throw new Error(`${summary.failed} images failed: ${JSON.stringify(summary.failures.slice(0, 3))}`);
    return { rate: summary.imported / seconds, seconds, perImage };
  } finally {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const workDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-ingest-'));
try {
  await mkdir(path.join(workDir, 'photos'));
  const files = await makeVariants(path.join(workDir, 'photos'));
  console.log(`bench:ingest — ${files.length} distinct photos made from ${sourceDir}, ${os.cpus().length} cores\n`);
  const defaults = loadConfig({});
  const settings = process.env.MATRIX
    ? [1, 2, 3].flatMap((concurrency) => [1, 2].map((threads) => ({ concurrency, threads })))
    : [{ concurrency: defaults.workerConcurrency, threads: defaults.onnxThreads }];
  const modelRate = await modelOnlyThroughput(files, defaults.onnxThreads);
  console.log(`model only (inference, back to back): ${modelRate.toFixed(1)} images/s\n`);
  for (const { concurrency, threads } of settings) {
    const result = await importOnce(files, path.join(workDir, `data-${concurrency}-${threads}`), {
      SEGCAT_WORKER_CONCURRENCY: String(concurrency),
      SEGCAT_ONNX_THREADS: String(threads),
    });
    console.log(
      `concurrency ${concurrency}, onnx threads ${threads || 'auto'}: ${result.rate.toFixed(1)} images/s ` +
        `(${result.seconds.toFixed(1)} s), per image p50 ${percentile(result.perImage, 50).toFixed(0)} ms ` +
        `p95 ${percentile(result.perImage, 95).toFixed(0)} ms, ingest/model ${(result.rate / modelRate).toFixed(2)}`,
    );
  }
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  await rm(workDir, { recursive: true, force: true });
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
}
