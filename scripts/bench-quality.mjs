// `npm run bench:quality [-- [folder] [--limit N] [--timing N]]`: what each ingredient of
// SEGCAT_QUALITY=accurate buys, measured the way `segcat evaluate` measures (box and mask AP,
// AP on portrait and landscape photos, image-level precision and recall of "contains class X"),
// and what it costs (ms per photo, as a ratio to `fast` and to the model alone), on a labelled
// folder (instances.json and images/, default ../shared/coco-mini). Prints Markdown tables.
//
// --limit N   only the first N photos, and no 12-megapixel timing (a smoke test: --limit 3 takes
//             about a minute)
// --timing N  photos timed per setting (default 12; each is run once per setting, in turn)
//
// Each model view of a photo (a model, plain or mirrored, whole or one tile) is run once and
// reused by every setting that contains it, so the settings are compared on the same detections.
// Timing runs every setting for real, one photo at a time, taking turns, so that a busy machine
// slows them alike. Runs the compiled code (dist/): `npm run bench:quality` builds first.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { ACCURATE_RECIPE, composeSegmenter, SINGLE_VIEW } from '../dist/vision/accurate.js';
import { parseCocoInstances } from '../dist/vision/coco-instances.js';
import { evaluateModel } from '../dist/vision/model-evaluation.js';
import { loadSegmenter } from '../dist/vision/segmenter.js';
import { planTiles } from '../dist/vision/tiles.js';
import { measureRefinement, refinementTables } from './lib/refine-quality.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(name);
  if (at === -1) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench:quality: ${name} needs a whole number of photos, got ${args[at + 1]}`);
    process.exit(1);
  }
  args.splice(at, 2);
  return value;
};
const limit = flag('--limit', Infinity);
const timed = Math.min(flag('--timing', 12), limit);
const folder = path.resolve(args[0] ?? path.join(root, '..', 'shared', 'coco-mini'));
const instancesFile = path.join(folder, 'instances.json');
if (!existsSync(instancesFile)) {
  console.error(`bench:quality: ${instancesFile} not found; give a folder holding instances.json and images/`);
  process.exit(1);
}
const imagesDir = path.join(folder, 'images');

// The labelled photos, and the portrait (taller than wide) and landscape ones apart.
const json = JSON.parse(readFileSync(instancesFile, 'utf8'));
function subset(keep) {
  const images = json.images.slice(0, limit).filter(keep);
  const ids = new Set(images.map((image) => image.id));
  return { images: images.length, instances: parseCocoInstances({ ...json, images, annotations: json.annotations.filter((a) => ids.has(a.image_id)) }, instancesFile) };
}
const sets = { all: subset(() => true), portrait: subset((i) => i.height > i.width), landscape: subset((i) => i.height <= i.width) };

const MODELS = { primary: 'yolo11n-seg-uint8', secondary: 'yolov8n-seg-uint8' };
const load = (name) => loadSegmenter({ modelPath: path.join(root, 'models', `${name}.onnx`), name });
const primary = await load(MODELS.primary);
const secondary = await load(MODELS.secondary);

/** A segmenter that runs each view of each photo once, at a lower score than any setting asks for. */
function remembering(segmenter) {
  const results = new Map();
  return {
    info: segmenter.info,
    async segment(input, options = {}) {
      const source = typeof input === 'string' ? input : createHash('sha1').update(input.rgb).digest('hex');
      const key = `${source} ${JSON.stringify(options.region ?? null)} ${Boolean(options.mirror)}`;
      // Kept down to a lower score and past 100: what a run at a higher floor keeps is then a prefix of this.
      if (!results.has(key)) results.set(key, segmenter.segment(input, { ...options, minScore: 0.0002, maxDetections: 150, keepProbabilities: true }));
      const result = await results.get(key);
      const floor = options.minScore ?? 0;
      return { ...result, segments: result.segments.filter((s) => s.score >= floor).slice(0, options.maxDetections ?? 100) };
    },
    close: () => segmenter.close(),
  };
}
const views = { primary: remembering(primary), secondary: remembering(secondary) };

const view = (model, mirror) => ({ model, mirror });
/** Tiles of the coco-mini photos themselves: none is 2× the input, so SAHI is measured zoomed in (2 × 2 tiles, enlarged 1.67×). */
const ZOOMED_TILES = { minScale: 0, tileScale: 0.6, overlap: 0.25, maxTiles: 4 };
const wbf = SINGLE_VIEW.merge;
const nms = { ...wbf, method: 'nms' };
/** Each setting: what it runs per photo, as a recipe over the two models; `fast` is the model alone. */
const SETTINGS = [
  { name: 'fast (yolo11n)', recipe: SINGLE_VIEW },
  { name: 'yolov8n alone', recipe: SINGLE_VIEW, swap: true },
  { name: 'orientation: portrait → yolov8n', recipe: { ...SINGLE_VIEW, portraitToSquare: true } },
  { name: 'mirror TTA, WBF', recipe: { ...SINGLE_VIEW, views: [view('primary', false), view('primary', true)] } },
  { name: 'mirror TTA, NMS', recipe: { ...SINGLE_VIEW, views: [view('primary', false), view('primary', true)], merge: nms } },
  { name: 'ensemble 11n + v8n, WBF', recipe: { ...SINGLE_VIEW, views: [view('primary', false), view('secondary', false)] } },
  { name: 'ensemble 11n + v8n, NMS', recipe: { ...SINGLE_VIEW, views: [view('primary', false), view('secondary', false)], merge: nms } },
  { name: 'tiles (2 × 2, zoomed 1.67×)', recipe: { ...SINGLE_VIEW, tiles: ZOOMED_TILES } },
  { name: 'refined masks (yolo11n)', recipe: { ...SINGLE_VIEW, refine: true } },
  { name: '**accurate** (ensemble, WBF, refined masks; tiles on large photos)', recipe: ACCURATE_RECIPE },
  { name: 'ensemble + mirror TTA of 11n, WBF', recipe: { ...SINGLE_VIEW, views: [view('primary', false), view('primary', true), view('secondary', false)] } },
  { name: 'ensemble + mirror TTA of both, WBF', recipe: { ...SINGLE_VIEW, views: [view('primary', false), view('primary', true), view('secondary', false), view('secondary', true)] } },
];
/** Model runs per photo, e.g. "2 × 11n + 1 × v8n". */
function runsOf({ recipe, swap }) {
  const count = (model) => recipe.views.filter((v) => v.model === model).length;
  const [eleven, eight] = swap ? [count('secondary'), count('primary')] : [count('primary'), count('secondary')];
  const tiles = recipe.tiles === ZOOMED_TILES ? ZOOMED_TILES.maxTiles : 0;
  return [eleven + tiles && `${eleven + tiles} × 11n`, eight && `${eight} × v8n`].filter(Boolean).join(' + ');
}
const compose = (setting, models) =>
  composeSegmenter(setting.swap ? { primary: models.secondary, secondary: models.primary } : models, setting.recipe);

/** Image-level floors reported, and the sweep that finds the best recall at ≥ 90% precision. */
const FLOORS = [0.25, 0.3, 0.4, 0.5];
const SWEEP = Array.from({ length: 91 }, (_, i) => Math.round(5 + i) / 100);
const pct = (v) => (v === null || v === undefined ? '-' : (100 * v).toFixed(1));

const rows = [];
for (const setting of SETTINGS) {
  const started = performance.now();
  const segmenter = compose(setting, views);
  const row = { setting };
  for (const [name, set] of Object.entries(sets)) {
    if (set.images === 0) continue;
    const evaluation = await evaluateModel(segmenter, set.instances, imagesDir, { floors: [...new Set([...FLOORS, ...SWEEP])].sort((a, b) => a - b) });
    if (evaluation.failures.length > 0) throw new Error(`bench:quality: ${evaluation.failures.map((f) => f.error).join('; ')}`);
    row[name] = evaluation;
  }
  rows.push(row);
  process.stderr.write(`${setting.name}: measured in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}

// Time per photo: every setting for real (no remembered views), taking turns photo by photo.
const timing = new Map(SETTINGS.map((s) => [s, 0]));
let modelMs = 0;
const direct = { primary, secondary };
const photos = json.images.slice(0, timed).map((image) => path.join(imagesDir, image.file_name));
for (const [i, photo] of [photos[0], ...photos].entries()) {
  for (const setting of SETTINGS) {
    const t = performance.now();
    const result = await compose(setting, direct).segment(photo);
    // The first photo warms every path up and is not counted.
    if (i === 0) continue;
    timing.set(setting, timing.get(setting) + performance.now() - t);
    if (setting === SETTINGS[0]) modelMs += result.timings.inferenceMs;
  }
}
const fastMs = timing.get(SETTINGS[0]);

const recallAt90 = (presence) => {
  let best = null;
  for (const p of presence) if (p.precision !== null && p.precision >= 0.9 && (!best || p.recall > best.recall)) best = p;
  return best ? `${pct(best.recall)} (≥ ${best.floor.toFixed(2)})` : '-';
};
const photosOf = (name) => sets[name].images;
console.log(`\nOn ${photosOf('all')} photos (${photosOf('portrait')} portrait, ${photosOf('landscape')} landscape) of ${folder}; time per photo over ${photos.length} of them.\n`);
console.log('| setting | model runs per photo | box AP | mask AP | mask AP75 | box / mask AP, portrait | box / mask AP, landscape | recall at ≥ 90% precision (floor) | ms per photo | × fast | × model alone |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const { setting, all, portrait, landscape } of rows) {
  const ms = timing.get(setting) / photos.length;
  const split = (e) => (e ? `${pct(e.box.summary.ap)} / ${pct(e.mask?.summary.ap)}` : '-');
  console.log(`| ${setting.name} | ${runsOf(setting)} | ${pct(all.box.summary.ap)} | ${pct(all.mask?.summary.ap)} | ${pct(all.mask?.summary.ap75)} | ${split(portrait)} | ${split(landscape)} | ${recallAt90(all.presence)} | ${ms.toFixed(0)} | ${(timing.get(setting) / fastMs).toFixed(2)} | ${(timing.get(setting) / modelMs).toFixed(2)} |`);
}
console.log(`\nImage-level precision / recall of "contains class X" at each minScore (${rows[0].all.presence[0].present} image-class pairs annotated):\n`);
console.log(`| setting | ${FLOORS.map((f) => `≥ ${f.toFixed(2)}`).join(' | ')} |`);
console.log(`|---|${FLOORS.map(() => '---').join('|')}|`);
for (const { setting, all } of rows) {
  const at = (floor) => all.presence.find((p) => Math.abs(p.floor - floor) < 1e-9);
  console.log(`| ${setting.name} | ${FLOORS.map((f) => `${pct(at(f).precision)} / ${pct(at(f).recall)}`).join(' | ')} |`);
}

// A large photo: one labelled photo scaled to 4000 × 3000, where accurate adds tiles at its own resolution.
if (limit === Infinity) await timeLargePhoto();
await primary.close();
await secondary.close();

// Refined masks on their own: boundary F and what a refined cut-out costs (README, "Cut-outs along the object's edges").
console.log(`\nRefined masks (yolo11n's own, and refined against the photo), and refined cut-outs:\n`);
console.log(refinementTables(await measureRefinement({ folder, limit })).join('\n'));

/** fast, the ensemble alone and accurate on one labelled photo scaled to 4000 × 3000 (12 MP). */
async function timeLargePhoto() {
  const large = await sharp(photos[0]).resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const accurate = SETTINGS.find((s) => s.recipe === ACCURATE_RECIPE);
  const ensemble = { recipe: { ...ACCURATE_RECIPE, tiles: null } };
  const tiles = planTiles(4000, 3000, primary.info.inputWidth, primary.info.inputHeight, ACCURATE_RECIPE.tiles).length;
  const ms = [];
  for (const setting of [SETTINGS[0], ensemble, accurate]) {
    const segmenter = compose(setting, direct);
    await segmenter.segment(large);
    const t = performance.now();
    const result = await segmenter.segment(large);
    ms.push({ total: performance.now() - t, model: result.timings.inferenceMs });
  }
  const [fast, whole, all] = ms;
  console.log(`\nA 4000 × 3000 photo: fast ${fast.total.toFixed(0)} ms (model ${fast.model.toFixed(0)} ms); the ensemble ${whole.total.toFixed(0)} ms (${(whole.total / fast.total).toFixed(1)} × fast); accurate, with its ${tiles} tiles, ${all.total.toFixed(0)} ms (${(all.total / fast.total).toFixed(1)} × fast).`);
}
