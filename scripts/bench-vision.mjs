// `npm run bench:vision [folder] [--model name] [--reps n]`: per-stage medians of `segcat segment`
// on real photos (default test/fixtures/images), the pipeline ÷ model ratio, extraction time per
// segment, and the same on a 12-megapixel upscale. Runs the compiled code in dist/.
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
const reps = Number(flag('--reps', '7'));
const folder = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? path.join(root, 'test', 'fixtures', 'images');
const modelPath = path.join(root, 'models', `${modelName}.onnx`);

const median = (values) => { const s = [...values].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ms = (v) => `${v.toFixed(1).padStart(7)} ms`;
const time = async (fn) => { const t = performance.now(); const r = await fn(); return [performance.now() - t, r]; };

const files = (await readdir(folder)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort().map((f) => path.join(folder, f));
const work = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-'));
const segmenter = await loadSegmenter({ modelPath, name: modelName });
const { inputWidth, inputHeight } = segmenter.info;

// Model alone: the same input tensor, nothing else. Kept open so it can be re-measured next to each
// batch: on a shared machine, a ratio of two timings taken minutes apart means little.
const bare = await openOnnxModel(await readFile(modelPath));
const tensor = new Float32Array(3 * inputWidth * inputHeight).fill(0.45);
for (let i = 0; i < 3; i++) await bare.run(tensor);
async function modelAloneMs(runs) {
  const times = [];
  for (let i = 0; i < runs; i++) times.push((await time(() => bare.run(tensor)))[0]);
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
await bare.release();
const batchMs = median(batchRuns);
const sequentialMs = median(totals.total);
console.log(`\nmedians over photos: decode+pre ${ms(median(totals.decode))}, model ${ms(median(totals.model))}, post ${ms(median(totals.post))}, mask files ${ms(median(totals.masks))}`);
console.log(`one image at a time (segment + mask files): ${ms(sequentialMs)}  ratio to model alone ${(sequentialMs / modelMs).toFixed(2)}`);
console.log(`batch as \`segcat segment\` runs it, per image: ${ms(batchMs)}  pipeline ÷ model = ${median(ratios).toFixed(2)} (median of ${reps} rounds; target ≤ 1.25)`);
console.log(`extraction per segment (transparent PNG, ~640 px photos): ${ms(median(totals.extract))} one at a time, ${ms(median(totals.extractMany))} with extractCutouts (target ≤ 10 ms)`);

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
