// Edges that follow the object (issue 15, part 2): what refining masks against the photo buys and
// costs. `measureRefinement` runs the model on a labelled folder (instances.json and images/,
// default ../shared/coco-mini), refines every detection (src/vision/refine.ts) and compares the
// model's and the refined masks with the annotations: mask AP, AP75, boundary F at 1, 2 and 3 px
// (src/vision/refine-evaluation.ts); then times cut-outs with and without `refine` on the test
// photos and on a 12-megapixel one, against the model run measured in the same process.
// `refinementTables` turns the result into the README's Markdown tables.
//
// Used by bench:quality, or alone: `npm run build && node scripts/lib/refine-quality.mjs [folder] [--limit N]`.
// Runs the compiled code (dist/).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { parseCocoInstances } from '../../dist/vision/coco-instances.js';
import { decodeRgb, extractCutout } from '../../dist/vision/raster.js';
import { evaluateRefinement } from '../../dist/vision/refine-evaluation.js';
import { loadSegmenter } from '../../dist/vision/segmenter.js';
import { FIXTURE_PHOTOS, ROOT } from './bench-utils.mjs';

const MODEL = 'yolo11n-seg-uint8';
const REPS = 5;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)];
}

/** Per segment, the median time of a plain and of a refined cut-out, taking turns so that load hits both alike. */
async function timeCutouts(segmenter, input) {
  const { segments, timings } = await segmenter.segment(input);
  const plain = [];
  const refined = [];
  const options = { background: 'transparent', format: 'png' };
  for (const segment of segments) {
    const times = { plain: [], refined: [] };
    for (let rep = 0; rep < REPS; rep++) {
      for (const refine of [false, true]) {
        const started = performance.now();
        await extractCutout(input, segment.mask, { ...options, refine });
        times[refine ? 'refined' : 'plain'].push(performance.now() - started);
      }
    }
    plain.push(median(times.plain));
    refined.push(median(times.refined));
  }
  return { plain, refined, modelMs: timings.inferenceMs };
}

/**
 * Measures refinement on `folder` (first `limit` photos) and times refined cut-outs; `onProgress`
 * hears about each photo.
 */
export async function measureRefinement({ folder = path.join(ROOT, '..', 'shared', 'coco-mini'), limit = Infinity, onProgress = () => {} } = {}) {
  const instancesFile = path.join(folder, 'instances.json');
  const json = JSON.parse(readFileSync(instancesFile, 'utf8'));
  const images = json.images.slice(0, limit);
  const ids = new Set(images.map((image) => image.id));
  const instances = parseCocoInstances({ ...json, images, annotations: json.annotations.filter((a) => ids.has(a.image_id)) }, instancesFile);
  const segmenter = await loadSegmenter({ modelPath: path.join(ROOT, 'models', `${MODEL}.onnx`), name: MODEL });
  try {
    const evaluation = await evaluateRefinement(segmenter, instances, path.join(folder, 'images'), (file) => decodeRgb(file), {
      onImage: ({ done, total }) => onProgress(`refine: ${done}/${total} photos`),
    });
    const photos = ['dog', 'eagle', 'giraffe', 'horses', 'kite', 'person', 'scream'];
    const small = { plain: [], refined: [], modelMs: [] };
    for (const name of photos) {
      const times = await timeCutouts(segmenter, path.join(FIXTURE_PHOTOS, `${name}.jpg`));
      small.plain.push(...times.plain);
      small.refined.push(...times.refined);
      small.modelMs.push(times.modelMs);
      onProgress(`cut-outs: ${name}.jpg`);
    }
    const large = await sharp(path.join(FIXTURE_PHOTOS, 'dog.jpg')).resize(4000, 3000).jpeg({ quality: 90 }).toBuffer();
    const big = await timeCutouts(segmenter, large);
    onProgress('cut-outs: 12 MP');
    return {
      model: segmenter.info.name,
      evaluation,
      cutouts: [
        { photos: 'test photos (~640 px)', segments: small.plain.length, plainMs: median(small.plain), refinedMs: median(small.refined), modelMs: median(small.modelMs) },
        { photos: 'dog.jpg at 4000×3000', segments: big.plain.length, plainMs: median(big.plain), refinedMs: median(big.refined), modelMs: big.modelMs },
      ],
    };
  } finally {
    await segmenter.close();
  }
}

const pct = (v) => (v === null || v === undefined ? '-' : (100 * v).toFixed(1));

/** The README's tables, as Markdown lines. */
export function refinementTables({ model, evaluation, cutouts }) {
  const e = evaluation;
  const lines = [
    `Mask refinement, ${model} on ${e.images} photos (${e.objects} objects; boundary F over ${e.matched} matched objects; refine time over ${e.segments} segments scoring ≥ 0.25):`,
    '',
    `| masks | mask AP | AP50 | AP75 | APs | APm | APl | ${e.tolerances.map((t) => `boundary F @${t} px`).join(' | ')} | better / worse (F @${e.tolerances[Math.floor(e.tolerances.length / 2)]} px) | refine ms per segment (÷ model per photo) |`,
    `|---|---|---|---|---|---|---|${e.tolerances.map(() => '---').join('|')}|---|---|`,
  ];
  for (const row of e.rows) {
    const m = row.mask;
    const cost = row.name === 'model' ? '-' : `${row.msPerSegment.toFixed(1)} (${(row.msPerSegment / e.modelMsPerImage).toFixed(2)})`;
    const tally = row.name === 'model' ? '-' : `${row.better} / ${row.worse}`;
    lines.push(`| ${row.name} | ${pct(m.ap)} | ${pct(m.ap50)} | ${pct(m.ap75)} | ${pct(m.apSmall)} | ${pct(m.apMedium)} | ${pct(m.apLarge)} | ${row.boundaryF.map(pct).join(' | ')} | ${tally} | ${cost} |`);
  }
  lines.push(`(model alone: ${e.modelMsPerImage.toFixed(1)} ms per photo in this run)`, '');
  lines.push('| cut-outs of | segments | plain ms per segment | refined ms per segment | refined ÷ plain | refined extra ÷ model per photo |', '|---|---|---|---|---|---|');
  for (const c of cutouts) {
    lines.push(`| ${c.photos} | ${c.segments} | ${c.plainMs.toFixed(1)} | ${c.refinedMs.toFixed(1)} | ${(c.refinedMs / c.plainMs).toFixed(2)} | ${((c.refinedMs - c.plainMs) / c.modelMs).toFixed(2)} |`);
  }
  return lines;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--limit');
  const limit = at === -1 ? Infinity : Number(args.splice(at, 2)[1]);
  if (!(limit >= 1)) {
    console.error('refine-quality: --limit needs a whole number of photos');
    process.exit(1);
  }
  const result = await measureRefinement({ folder: args[0] && path.resolve(args[0]), limit, onProgress: (line) => process.stderr.write(`${line}\r`) });
  process.stderr.write('\n');
  console.log(refinementTables(result).join('\n'));
}
