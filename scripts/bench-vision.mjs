// `npm run bench:vision [folder] [--model name] [--reps n] [--smoke]`: per-stage medians of
// `segcat segment` on real photos (default test/fixtures/images), extraction time per segment,
// `segcat segment` on a folder as a ratio to the model alone (per extra photo), and the same
// stages on a 12-megapixel upscale. `--smoke` runs everything tiny (3 photos, one round, no 12 MP),
// to prove the bench still works. Runs the compiled code in dist/.
import { spawn } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { makeVariants } from './lib/bench-utils.mjs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { segmentFiles } from '../dist/vision/batch.js';
import { computeLetterbox } from '../dist/vision/letterbox.js';
import { maskRoot } from '../dist/vision/mask-filename.js';
import { writeMaskFiles } from '../dist/vision/mask-files.js';
import { openOnnxModel } from '../dist/vision/onnx-session.js';
import { decodeLetterboxed, extractCutout, extractCutouts } from '../dist/vision/raster.js';
import { loadSegmenter } from '../dist/vision/segmenter.js';
import { readFile } from 'node:fs/promises';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const modelName = flag('--model', 'yolo11n-seg-uint8');
const smoke = args.includes('--smoke');
const reps = Number(flag('--reps', smoke ? '1' : '7'));
const folder = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? path.join(root, 'test', 'fixtures', 'images');
const modelPath = path.join(root, 'models', `${modelName}.onnx`);

const median = (values) => { const s = [...values].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ms = (v) => `${v.toFixed(1).padStart(7)} ms`;
const time = async (fn) => { const t = performance.now(); const r = await fn(); return [performance.now() - t, r]; };

const files = (await readdir(folder)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort().map((f) => path.join(folder, f)).slice(0, smoke ? 3 : undefined);
const work = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-'));
const segmenter = await loadSegmenter({ modelPath, name: modelName });
const { inputWidth, inputHeight } = segmenter.info;

// Model alone: the same input tensor, nothing else, with onnxruntime's threads spinning (its
// default, the faster for the model alone on an idle machine) and not (segcat's default, the faster
// when anything else runs): each figure is taken with both and the quicker one is the baseline.
// Kept open so it can be re-measured next to each batch: on a shared machine, a ratio of two
// timings taken minutes apart means little.
const modelBytes = await readFile(modelPath);
const bareModels = [await openOnnxModel(modelBytes, { spinning: true }), await openOnnxModel(modelBytes, { spinning: false })];
const tensor = new Float32Array(3 * inputWidth * inputHeight).fill(0.45);
for (const model of bareModels) for (let i = 0; i < 3; i++) await model.run(tensor);
const bare = {
  /** Runs `work(model)` with each bare model; resolves to the quicker wall time. */
  async quickest(work) {
    const times = [];
    for (const model of bareModels) times.push((await time(() => work(model)))[0]);
    return Math.min(...times);
  },
  release: () => Promise.all(bareModels.map((model) => model.release())),
};
async function modelAloneMs(runs) {
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await bare.quickest((model) => model.run(tensor)));
  return median(times);
}
const modelMs = await modelAloneMs(reps * 3);

async function stages(file) {
  const rows = { decode: [], model: [], post: [], masks: [], total: [] };
  const out = await mkdtemp(path.join(work, 'stage-'));
  for (let i = 0; i < reps + 1; i++) {
    const [total, masks] = await time(async () => {
      const result = await segmenter.segment(file);
      const [writeMs] = await time(() => writeMaskFiles(result, maskRoot(file), out));
      return { result, writeMs };
    });
    if (i === 0) continue; // warm-up
    rows.decode.push(masks.result.timings.preprocessMs);
    rows.model.push(masks.result.timings.inferenceMs);
    rows.post.push(masks.result.timings.postprocessMs);
    rows.masks.push(masks.writeMs);
    rows.total.push(total);
  }
  const result = await segmenter.segment(file);
  return { rows: Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)])), result };
}

async function extraction(file, segments) {
  const times = [];
  for (const segment of segments) {
    for (let i = 0; i < reps + 1; i++) {
      const [t] = await time(() => extractCutout(file, segment.mask, { background: 'transparent', format: 'png' }));
      if (i > 0) times.push(t);
    }
  }
  const many = [];
  for (let i = 0; i < reps + 1 && segments.length > 0; i++) {
    const [t] = await time(() => extractCutouts(file, segments.map((s) => s.mask), { background: 'transparent', format: 'png' }));
    if (i > 0) many.push(t / segments.length);
  }
  return times.length ? [median(times), median(many)] : [NaN, NaN];
}

console.log(`segcat vision bench: ${modelName} (${inputWidth}x${inputHeight}), ${files.length} photos from ${folder}, ${reps} runs each, ${os.availableParallelism()} cores`);
console.log(`model run alone (median): ${ms(modelMs)}\n`);
console.log(`${'photo'.padEnd(14)} ${'size'.padEnd(10)} segs  decode+pre       model        post      mask files   whole/image  extract/seg`);
const totals = { decode: [], model: [], post: [], masks: [], total: [], extract: [], extractMany: [] };
for (const file of files) {
  const { rows, result } = await stages(file);
  const [extract, extractMany] = await extraction(file, result.segments);
  for (const k of Object.keys(rows)) totals[k].push(rows[k]);
  if (!Number.isNaN(extract)) {
    totals.extract.push(extract);
    totals.extractMany.push(extractMany);
  }
  console.log(`${path.basename(file).padEnd(14)} ${`${result.width}x${result.height}`.padEnd(10)} ${String(result.segments.length).padStart(4)} ${ms(rows.decode)} ${ms(rows.model)} ${ms(rows.post)} ${ms(rows.masks)} ${ms(rows.total)} ${Number.isNaN(extract) ? '        -' : ms(extract)}`);
}

// The batch as `segcat segment` runs it (next image decoding while one is in the model), each
// round next to a fresh model-alone measurement.
const ratios = [];
const batchRuns = [];
for (let i = 0; i < reps; i++) {
  const out = await mkdtemp(path.join(work, 'batch-'));
  const alone = await modelAloneMs(files.length);
  const perImage = (await time(() => segmentFiles(segmenter, files, out)))[0] / files.length;
  batchRuns.push(perImage);
  ratios.push(perImage / alone);
}
const batchMs = median(batchRuns);
const sequentialMs = median(totals.total);
console.log(`\nmedians over photos: decode+pre ${ms(median(totals.decode))}, model ${ms(median(totals.model))}, post ${ms(median(totals.post))}, mask files ${ms(median(totals.masks))}`);
console.log(`one image at a time (segment + mask files): ${ms(sequentialMs)}  ratio to model alone ${(sequentialMs / modelMs).toFixed(2)}`);
console.log(`in-process batch (segmentFiles), per image: ${ms(batchMs)}  ÷ model alone = ${median(ratios).toFixed(2)} (median of ${reps} rounds)`);
console.log(`extraction per segment (transparent PNG, ~640 px photos): ${ms(median(totals.extract))} one at a time, ${ms(median(totals.extractMany))} with extractCutouts (target ≤ 10 ms)`);
// Milliseconds differ between machines; the target was set where the model took ~70 ms and
// extraction 11.9 ms, so "≤ 10 ms" there is "≤ 0.143 × the model alone" anywhere.
console.log(`extraction one at a time ÷ model alone = ${(median(totals.extract) / modelMs).toFixed(3)} (target ≤ 0.143: 10 ms where the model took 70 ms; 0.170 before)`);

// The CLI on a folder, per extra photo: \`segcat segment\` on LARGE photos and on SMALL of them (a
// subset), (time(LARGE) − time(SMALL)) ÷ (LARGE − SMALL), divided by the model alone per photo on
// the same photos' inputs. Process start-up and model loading cancel out in the difference. Rounds
// alternate the three measurements; the median round is reported with the range.
const cli = await cliPerExtraPhoto();
console.log(`\n\`segcat segment\` on a folder, per extra photo (${cli.large} vs ${cli.small} photos, ${cli.rounds.length} alternating rounds):`);
for (const [index, round] of cli.rounds.entries()) {
  console.log(`  round ${index + 1}: ${cli.small} photos ${(round.small / 1000).toFixed(2)} s, ${cli.large} photos ${(round.large / 1000).toFixed(2)} s, per extra photo ${ms(round.perPhoto)}, model alone ${ms(round.model)}, ratio ${round.ratio.toFixed(2)}`);
}
const cliRatios = cli.rounds.map((round) => round.ratio);
console.log(`segment CLI per extra photo ÷ model alone = ${median(cliRatios).toFixed(2)} (median; range ${Math.min(...cliRatios).toFixed(2)}–${Math.max(...cliRatios).toFixed(2)}; target ≤ 1.25)`);
await bare.release();

/** Wall time of `segcat segment <dir> <out>` in a fresh process. */
function runSegmentCli(dir, out) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(root, 'bin', 'segcat.js'), 'segment', dir, out], {
      env: { ...process.env, SEGCAT_MODEL: modelName, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`segcat segment exited ${code}: ${stderr}`))));
  });
}

async function cliPerExtraPhoto() {
  const small = smoke ? 2 : 7;
  const large = smoke ? 4 : 70;
  const rounds = smoke ? 1 : 5;
  const photos = await makeVariants(await mkdtemp(path.join(work, 'cli-photos-')), large);
  const folders = {};
  for (const [name, count] of [['small', small], ['large', large]]) {
    folders[name] = path.join(work, `cli-${name}`);
    await mkdir(folders[name]);
    for (const photo of photos.slice(0, count)) await symlink(photo, path.join(folders[name], path.basename(photo)));
  }
  // The model alone on exactly these photos' inputs, decoded beforehand.
  const tensors = [];
  for (const photo of photos) {
    const { rgb } = await decodeLetterboxed(photo, (w, h) => computeLetterbox(w, h, inputWidth, inputHeight), 50_000_000);
    const pixels = inputWidth * inputHeight;
    const tensor = new Float32Array(pixels * 3);
    for (let i = 0; i < pixels; i++) for (let c = 0; c < 3; c++) tensor[c * pixels + i] = rgb[i * 3 + c] / 255;
    tensors.push(tensor);
  }
  const results = [];
  for (let round = 0; round < rounds; round++) {
    const smallMs = await runSegmentCli(folders.small, await mkdtemp(path.join(work, 'cli-out-')));
    const largeMs = await runSegmentCli(folders.large, await mkdtemp(path.join(work, 'cli-out-')));
    const modelTotal = await bare.quickest(async (model) => { for (const input of tensors) await model.run(input); });
    const perPhoto = (largeMs - smallMs) / (large - small);
    const model = modelTotal / tensors.length;
    results.push({ small: smallMs, large: largeMs, perPhoto, model, ratio: perPhoto / model });
  }
  return { small, large, rounds: results };
}

if (smoke) {
  await segmenter.close();
  await rm(work, { recursive: true, force: true });
  process.exit(0);
}

// 12 megapixels: an upscale of the first photo with several objects.
const source = files.find((f) => f.includes('dog')) ?? files[0];
const big = path.join(work, 'big-12mp.jpg');
await writeFile(big, await sharp(source).resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer());
const { rows: bigRows, result: bigResult } = await stages(big);
const [bigExtract, bigExtractMany] = await extraction(big, bigResult.segments);
console.log(`\n12 MP (${path.basename(source)} upscaled to 4000x3000, ${bigResult.segments.length} segments):`);
console.log(`  decode+pre ${ms(bigRows.decode)}, model ${ms(bigRows.model)}, post (NMS + full-resolution masks) ${ms(bigRows.post)}, mask files ${ms(bigRows.masks)}, whole ${ms(bigRows.total)}`);
console.log(`  extraction per segment: ${ms(bigExtract)} one at a time, ${ms(bigExtractMany)} with extractCutouts`);
const [letterboxMs] = await time(() => decodeLetterboxed(big, (w, h) => computeLetterbox(w, h, inputWidth, inputHeight), 50_000_000));
console.log(`  (one more decode+letterbox alone: ${ms(letterboxMs)})`);

await segmenter.close();
await rm(work, { recursive: true, force: true });
