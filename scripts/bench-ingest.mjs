#!/usr/bin/env node
// npm run bench:ingest [-- N] — bulk ingestion throughput, as `segcat import` does it.
//
// Makes N distinct photos (default 200) from test/fixtures/images by crops, flips and scales (so their
// hashes differ), imports them into a scratch database with the in-process worker, and prints
// images/s, p50/p95 per image (job start → DONE), peak RSS, and the ratio of ingest throughput
// to model-only throughput (the same images, nothing but the model's run, back to back).
//
// MATRIX=1 repeats the import for worker concurrency × onnxruntime threads, to choose defaults.
// Uses a scratch database (scripts/lib/bench-utils.mjs). Run `npm run build` first.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { makeVariants, percentile, ROOT, scratchDatabase, FIXTURE_PHOTOS } from './lib/bench-utils.mjs';

const { loadConfig } = await import(path.join(ROOT, 'dist/config.js'));
const { startRuntime } = await import(path.join(ROOT, 'dist/runtime.js'));
const { createSegmenter } = await import(path.join(ROOT, 'dist/vision/segmenter.js'));

const count = Number(process.argv[2] ?? process.env.N ?? 200);

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
  const database = await scratchDatabase('segcat_bench_ingest');
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
  const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env });
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
    await database.drop();
  }
}

const workDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-ingest-'));
try {
  await mkdir(path.join(workDir, 'photos'));
  const files = await makeVariants(path.join(workDir, 'photos'), count);
  console.log(`bench:ingest — ${files.length} distinct photos made from ${FIXTURE_PHOTOS}, ${os.cpus().length} cores\n`);
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
}
