#!/usr/bin/env node
// npm run bench:ingest [-- N ...] — bulk ingestion throughput, as `segcat import` does it.
//
// For each N (default 200), makes N distinct photos from test/fixtures/images by crops, flips and
// scales (so their hashes differ), imports them into a scratch database with the in-process
// worker, and prints images/s, p50/p95 per image (job start → DONE), peak RSS, where the time of
// an image goes by stage, and the ratio of ingest throughput to model-only throughput: the same
// images, nothing but the model's run, back to back, measured just before and just after the
// import (their mean is the baseline), with the model at its fastest thread setting.
//
// MATRIX=1 repeats the import for worker concurrency × onnxruntime threads × spinning, to choose
// defaults. Uses a scratch database (scripts/lib/bench-utils.mjs). Run `npm run build` first.
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { makeVariants, percentile, ROOT, scratchDatabase, FIXTURE_PHOTOS } from './lib/bench-utils.mjs';
import { postgresCpu, threadCpu, threadCpuPer } from './lib/thread-cpu.mjs';

const { loadConfig } = await import(path.join(ROOT, 'dist/config.js'));
const { startRuntime } = await import(path.join(ROOT, 'dist/runtime.js'));
const { createSegmenter } = await import(path.join(ROOT, 'dist/vision/segmenter.js'));

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (sizes.length === 0) sizes.push(Number(process.env.N ?? 200));

const mean = (values) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const cpuMs = (usage) => (usage.user + usage.system) / 1000;

/**
 * Images per second when the process does nothing but run the model on these images (decoded
 * beforehand, outside the timing), and the process CPU it used per image.
 */
async function modelOnly(files, env) {
  const segmenter = await createSegmenter(loadConfig({ LOG_LEVEL: 'silent', ...env }));
  try {
    const sample = files.slice(0, Math.min(files.length, 60));
    await segmenter.segment(sample[0]);
    let inference = 0;
    let cpu = 0;
    const threadsBefore = threadCpu();
    for (const file of sample) {
      const before = process.cpuUsage();
      const started = performance.now();
      const { timings } = await segmenter.segment(file);
      // The process CPU of the call, minus the decode's share (the decode runs alone before the model).
      cpu += cpuMs(process.cpuUsage(before)) * (timings.inferenceMs / (performance.now() - started));
      inference += timings.inferenceMs;
    }
    const threads = threadCpuPer(threadsBefore, threadCpu(), sample.length);
    const modelThread = threads.find((row) => row.kind.startsWith('model thread'))?.ms;
    return { rate: sample.length / (inference / 1000), cpuPerImage: modelThread ?? cpu / sample.length };
  } finally {
    await segmenter.close();
  }
}

/** The fastest model-only rate of the thread settings the import may use, and its CPU per image. */
async function bestModelOnly(files, threads) {
  const spinning = await modelOnly(files, { SEGCAT_ONNX_THREADS: String(threads), SEGCAT_ONNX_SPINNING: 'true' });
  const quiet = await modelOnly(files, { SEGCAT_ONNX_THREADS: String(threads), SEGCAT_ONNX_SPINNING: 'false' });
  return { rate: Math.max(spinning.rate, quiet.rate), cpuPerImage: quiet.cpuPerImage, spinningRate: spinning.rate, quietRate: quiet.rate };
}

async function importOnce(files, dataDir, env) {
  const database = await scratchDatabase('segcat_bench_ingest');
  const segmented = [];
  const received = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        const entry = JSON.parse(line);
        if (entry.msg === 'image segmented') segmented.push(entry);
        if (entry.msg === 'image received' && !entry.duplicate) received.push(entry);
      }
      callback();
    },
  });
  const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env });
  // modelFirst: as in `segcat import`, whose runtime this is.
  const runtime = await startRuntime(config, { http: false, worker: true, modelFirst: true, logger: pino({ level: 'info' }, sink) });
  try {
    const cpu = process.cpuUsage();
    const threadsBefore = threadCpu();
    const postgresBefore = postgresCpu();
    // Resident memory while the import runs, sampled (the process's own peak also counts the
    // model-only runs before it).
    let peakRss = process.memoryUsage.rss();
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
    const started = performance.now();
    const summary = await runtime.services.importer.importFiles(files, () => undefined).finally(() => clearInterval(sampler));
    const seconds = (performance.now() - started) / 1000;
    const cpuPerImage = cpuMs(process.cpuUsage(cpu)) / summary.imported;
    const threads = threadCpuPer(threadsBefore, threadCpu(), summary.imported);
    const postgresPerImage = (postgresCpu() - postgresBefore) / summary.imported;
    if (summary.failed > 0) throw new Error(`${summary.failed} images failed: ${JSON.stringify(summary.failures.slice(0, 3))}`);
    return { rate: summary.imported / seconds, seconds, segmented, received, cpuPerImage, postgresPerImage, threads, peakRss };
  } finally {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
    await database.drop();
  }
}

/** Mean ms per image of each stage in log entries' `stages`. */
function stageMeans(entries) {
  const names = [...new Set(entries.flatMap((entry) => Object.keys(entry.stages ?? {})))];
  return Object.fromEntries(names.map((name) => [name, mean(entries.map((entry) => entry.stages?.[name] ?? 0))]));
}

function printStages(result) {
  const ingest = stageMeans(result.received);
  const segment = stageMeans(result.segmented);
  const whole = mean(result.segmented.map((entry) => entry.ms));
  const waited = whole - Object.values(segment).reduce((a, b) => a + b, 0);
  const row = (stages) => Object.entries(stages).map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(', ');
  console.log(`  where an image's time goes (mean ms, wall clock; stages of different images overlap):`);
  console.log(`    on the way in: ${row(ingest)}`);
  console.log(`    segmentation job: ${row(segment)}, waiting for the model or the event loop ${Math.max(0, waited).toFixed(1)} (job total ${whole.toFixed(1)})`);
  console.log(`    process CPU per image: ${result.cpuPerImage.toFixed(1)} ms (model threads included), and PostgreSQL's ${result.postgresPerImage.toFixed(1)} ms`);
  if (result.threads.length > 0) {
    console.log(`    of which, by thread: ${result.threads.map((row) => `${row.kind} ${row.ms.toFixed(1)}`).join(', ')}`);
  }
}

const defaults = loadConfig({});
// As in `segcat import` (auto: the model's threads first); SEGCAT_MODEL_PRIORITY=normal to compare.
const modelPriority = process.env.SEGCAT_MODEL_PRIORITY ?? defaults.modelPriority;
if (sizes.length > 1) {
  // One process per size: a thread's lowered priority is never raised again, and every thread the
  // process starts later inherits it, so a second import in the same process would not get the
  // model-first scheduling the first one had.
  for (const count of sizes) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), String(count)], { stdio: 'inherit' });
    if (child.status !== 0) process.exit(child.status ?? 1);
  }
  process.exit(0);
}
for (const count of sizes) {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-ingest-'));
  try {
    await mkdir(path.join(workDir, 'photos'));
    const files = await makeVariants(path.join(workDir, 'photos'), count);
    console.log(`bench:ingest — ${files.length} distinct photos made from ${FIXTURE_PHOTOS}, ${os.cpus().length} cores`);
    const settings = process.env.MATRIX
      ? [1, 2, 3].flatMap((concurrency) => [0, 1].flatMap((threads) => ['false', 'true'].map((spinning) => ({ concurrency, threads, spinning }))))
      : [{ concurrency: defaults.workerConcurrency, threads: defaults.onnxThreads, spinning: String(defaults.onnxSpinning) }];
    for (const { concurrency, threads, spinning } of settings) {
      const before = await bestModelOnly(files, threads);
      const result = await importOnce(files, path.join(workDir, `data-${concurrency}-${threads}-${spinning}`), {
        SEGCAT_WORKER_CONCURRENCY: String(concurrency),
        SEGCAT_ONNX_THREADS: String(threads),
        SEGCAT_ONNX_SPINNING: spinning,
        SEGCAT_MODEL_PRIORITY: modelPriority,
      });
      const after = await bestModelOnly(files, threads);
      const modelRate = (before.rate + after.rate) / 2;
      const perImage = result.segmented.map((entry) => entry.ms);
      console.log(
        `\nconcurrency ${concurrency}, onnx threads ${threads || 'auto'}, spinning ${spinning}, model priority ${modelPriority}: ${result.rate.toFixed(1)} images/s ` +
          `(${result.seconds.toFixed(1)} s), per image p50 ${percentile(perImage, 50).toFixed(0)} ms p95 ${percentile(perImage, 95).toFixed(0)} ms`,
      );
      console.log(`  model only (inference back to back, fastest thread setting): ${before.rate.toFixed(1)} images/s before, ${after.rate.toFixed(1)} after`);
      console.log(`  ingest ÷ model-only = ${(result.rate / modelRate).toFixed(2)} at ${files.length} photos (target ≥ 0.80)`);
      console.log(`  peak RSS during the import ${(result.peakRss / 2 ** 20).toFixed(0)} MB (target ≤ 600 MB)`);
      printStages(result);
      const modelCpu = (before.cpuPerImage + after.cpuPerImage) / 2;
      console.log(`    the model alone uses ${modelCpu.toFixed(1)} ms of CPU per image (not spinning): the import spends ${(result.cpuPerImage / modelCpu).toFixed(2)} × that in all`);
      // The floor: even with every core busy all the time, an image needs its CPU (ours and
      // PostgreSQL's) spread over the cores; the model alone needs 1 / modelRate of wall time.
      const cores = os.availableParallelism();
      const busiest = (result.cpuPerImage + result.postgresPerImage) / cores;
      const ceiling = Math.min(1, 1000 / modelRate / busiest);
      console.log(`    CPU-bound ceiling: ${(result.cpuPerImage + result.postgresPerImage).toFixed(0)} ms of CPU per image on ${cores} cores is at least ${busiest.toFixed(0)} ms of wall time, against ${(1000 / modelRate).toFixed(0)} ms for the model alone: ingest ÷ model-only ≤ ${ceiling.toFixed(2)} (reached: ${(result.rate / modelRate / ceiling * 100).toFixed(0)}% of it)`);
      console.log(`    model alone, spinning ${((before.spinningRate + after.spinningRate) / 2).toFixed(1)} images/s, not spinning ${((before.quietRate + after.quietRate) / 2).toFixed(1)} images/s`);
    }
    console.log(`\npeak RSS of the whole bench process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (model-only runs included)\n`);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
