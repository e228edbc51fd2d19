/**
 * Edges that follow the object: a mask refined against its photo with a colour guided filter
 * (guided-filter.ts), computed only around the mask's box. Pure: pixels and a mask in, a mask out.
 *
 * Why: a YOLO-seg mask is a 1/4-resolution prototype map of a 640-px view of the photo, bilinearly
 * upsampled, so its edge is a smooth curve that can sit a prototype cell (the photo's long side /
 * 160 pixels) away from the object's real edge. The guided filter treats the mask as a noisy
 * estimate of an alpha that is locally a linear function of the colour, q = a·I + b, in windows
 * about one cell wide. Where the window holds one colour the mask passes unchanged; where it
 * straddles the object's edge, the edge moves to the colour boundary.
 *
 * Glossary:
 * - Cell: the photo's long side / 160, the size of one prototype cell in photo pixels (both
 *   models see the photo at 640 px on its long side, and their prototypes are 1/4 of that).
 * - Region: where the refined mask may be set: the model's box grown by half a cell on each side
 *   (within the photo), since the real edge can lie just outside a tight box.
 * - Read: the region grown by the filter's radius, the pixels the filter looks at.
 */
import type { RgbRaster } from './cutout-pixels.js';
import { guidedCoefficients, type GuidePlanes } from './guided-filter.js';
import type { Box, BoxMask } from './types.js';

/** Tuning of refineMask; REFINE_DEFAULTS holds the measured choice. */
export interface RefineOptions {
  /** Window radius in cells (default REFINE_DEFAULTS.radiusCells). */
  radiusCells?: number;
  /** Regularisation ε of the guided filter, on colours in 0..1 (default REFINE_DEFAULTS.epsilon). */
  epsilon?: number;
  /** How far, in cells, the refined mask may grow past the model's box (default REFINE_DEFAULTS.growCells). */
  growCells?: number;
}

/** Defaults of RefineOptions, measured on coco-mini (README, "Cut-outs along the object's edges"). */
export const REFINE_DEFAULTS = Object.freeze({ radiusCells: 1, epsilon: 0.005, growCells: 0.5 });

/** Prototype cells per long side of the photo (640-px model input, prototypes at 1/4). */
const CELLS_PER_LONG_SIDE = 160;

/** The geometry of one refinement: filter radius, subsampling, and the region it reads. */
export interface RefinePlan {
  /** Window radius in photo pixels (≥ 1). */
  radius: number;
  /** The photo is averaged over `step`×`step` blocks before filtering (He's fast guided filter); 1 = exact. */
  step: number;
  /** Where the refined mask may be set: the mask's box grown by the allowed growth, within the photo. */
  region: Box;
  /** What the filter reads: `region` grown by the radius, within the photo. */
  read: Box;
  /** The guided filter's ε. */
  epsilon: number;
}

function grow(box: Box, by: number, width: number, height: number): Box {
  const x = Math.max(0, box.x - by);
  const y = Math.max(0, box.y - by);
  return { x, y, width: Math.min(width, box.x + box.width + by) - x, height: Math.min(height, box.y + box.height + by) - y };
}

/** Plans the refinement of a mask whose box is `box` in a `width`×`height` photo. */
export function planRefinement(box: Box, width: number, height: number, options: RefineOptions = {}): RefinePlan {
  if (!(width > 0 && height > 0) || box.width <= 0 || box.height <= 0 || box.x < 0 || box.y < 0 || box.x + box.width > width || box.y + box.height > height) {
    throw new RangeError(`refine: box ${box.x},${box.y} ${box.width}x${box.height} does not lie inside the ${width}x${height} photo`);
  }
  const { radiusCells, epsilon, growCells } = { ...REFINE_DEFAULTS, ...options };
  if (!(radiusCells > 0) || !(epsilon > 0) || !(growCells >= 0)) {
    throw new RangeError(`refine: radiusCells and epsilon must be > 0 and growCells ≥ 0, got ${radiusCells}, ${epsilon}, ${growCells}`);
  }
  const cell = Math.max(width, height) / CELLS_PER_LONG_SIDE;
  const radius = Math.max(1, Math.round(radiusCells * cell));
  // Subsampled windows keep a radius of at least 2 blocks, so large photos cost like small ones.
  const step = Math.max(1, Math.floor(radius / 2));
  const region = grow(box, Math.round(growCells * cell), width, height);
  return { radius, step, epsilon, region, read: grow(region, radius, width, height) };
}

/** Planes of the guide (R, G, B in 0..1) and the input mask (0..1), block-averaged by `step`. */
function samplePlanes(pixels: RgbRaster, mask: BoxMask, read: Box, step: number): GuidePlanes {
  const w = Math.ceil(read.width / step);
  const h = Math.ceil(read.height / step);
  const [r, g, b, p] = [0, 1, 2, 3].map(() => new Float32Array(w * h)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const cellOf = Int32Array.from({ length: read.width }, (_, x) => Math.floor(x / step));
  const data = pixels.data;
  const m = mask.box;
  // The mask's columns within the read box.
  const x0 = Math.max(m.x, read.x);
  const x1 = Math.min(m.x + m.width, read.x + read.width);
  for (let y = 0; y < read.height; y++) {
    const iy = read.y + y;
    const row = Math.floor(y / step) * w;
    let s = ((iy - pixels.top) * pixels.width + (read.x - pixels.left)) * 3;
    for (let x = 0; x < read.width; x++, s += 3) {
      const cell = row + cellOf[x]!;
      r[cell]! += data[s]!;
      g[cell]! += data[s + 1]!;
      b[cell]! += data[s + 2]!;
    }
    if (iy < m.y || iy >= m.y + m.height) continue;
    const maskRow = (iy - m.y) * m.width - m.x;
    for (let ix = x0; ix < x1; ix++) if (mask.data[maskRow + ix]) p[row + cellOf[ix - read.x]!]! += 1;
  }
  for (let cy = 0; cy < h; cy++) {
    const rows = Math.min(step, read.height - cy * step);
    for (let cx = 0; cx < w; cx++) {
      const n = rows * Math.min(step, read.width - cx * step);
      const i = cy * w + cx;
      r[i] = r[i]! / (255 * n);
      g[i] = g[i]! / (255 * n);
      b[i] = b[i]! / (255 * n);
      p[i] = p[i]! / n;
    }
  }
  return { w, h, r, g, b, p };
}

/** Sampling of a subsampled grid at full-resolution pixels along one axis: two cells and a weight. */
function axisSamples(length: number, step: number, cells: number) {
  const lower = new Int32Array(length);
  const upper = new Int32Array(length);
  const weight = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const p = Math.min(cells - 1, Math.max(0, (i + 0.5) / step - 0.5));
    lower[i] = Math.floor(p);
    upper[i] = Math.min(cells - 1, lower[i]! + 1);
    weight[i] = p - lower[i]!;
  }
  return { lower, upper, weight };
}

/**
 * How sharply a refined cut-out's alpha rises: from 0 to 255 while the filter's output goes from
 * 0.5 - 0.5/ALPHA_RAMP to 0.5 + 0.5/ALPHA_RAMP. 1 would be the filter's output itself (a halo of
 * background where colours are close); 3 keeps an anti-aliased edge a pixel or two wide.
 */
const ALPHA_RAMP = 3;

/**
 * Per coefficient cell: 1 or 0 where the mask was set or clear all over the window (a ≈ 0, b ≈ the
 * mask's value), -1 elsewhere. There q = a·I + b stays within 2·`near` of 0 or 1 whatever the
 * colour, where the threshold (0.5) and the alpha ramp (saturated within 0.5 - 0.5/ALPHA_RAMP of
 * either end) give exactly 0 or 255: those pixels need no maths.
 */
function flatCells([ar, ag, ab, b]: readonly Float32Array[]): Int8Array {
  const flat = new Int8Array(b!.length).fill(-1);
  const near = (0.5 - 0.5 / ALPHA_RAMP) / 4;
  for (let i = 0; i < flat.length; i++) {
    if (Math.abs(ar![i]!) + Math.abs(ag![i]!) + Math.abs(ab![i]!) > near) continue;
    if (Math.abs(b![i]! - 1) < near) flat[i] = 1;
    else if (Math.abs(b![i]!) < near) flat[i] = 0;
  }
  return flat;
}

/** Runs of the region's columns that sample the same two coefficient cells: [from[k], from[k + 1]). */
function columnSpans(region: Box, read: Box, xs: ReturnType<typeof axisSamples>) {
  const from: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  for (let x = 0; x < region.width; x++) {
    const rx = region.x + x - read.x;
    if (from.length > 0 && xs.lower[rx] === lower.at(-1) && xs.upper[rx] === upper.at(-1)) continue;
    from.push(x);
    lower.push(xs.lower[rx]!);
    upper.push(xs.upper[rx]!);
  }
  const count = from.length;
  from.push(region.width);
  return { count, from: Int32Array.from(from), lower: Int32Array.from(lower), upper: Int32Array.from(upper) };
}

/** A refined mask. */
export interface RefinedMask {
  /** Binary (0/255) over the plan's region: set where the filter's output exceeds 0.5. */
  mask: BoxMask;
  /** The same region as an alpha matte (0..255, an anti-aliased edge whose middle is `mask`'s edge), for cut-outs. */
  alpha: BoxMask;
  /** Pixels set in `mask`. */
  area: number;
}

/**
 * Refines `mask` (binary, inside its box) against the photo: `pixels` must cover `plan.read`
 * (planRefinement of the mask's box). The result covers `plan.region`.
 */
export function refineMask(mask: BoxMask, pixels: RgbRaster, plan: RefinePlan): RefinedMask {
  const { read, region, radius, step, epsilon } = plan;
  const { left, top, width, height } = pixels;
  if (read.x < left || read.y < top || read.x + read.width > left + width || read.y + read.height > top + height) {
    throw new RangeError(`refine: the pixels given (${left},${top} ${width}x${height}) do not cover the region the filter reads (${read.x},${read.y} ${read.width}x${read.height})`);
  }
  if (pixels.data.length !== width * height * 3) {
    throw new RangeError(`refine: ${width}x${height} RGB pixels need ${width * height * 3} bytes, got ${pixels.data.length}`);
  }
  const planes = samplePlanes(pixels, mask, read, step);
  const coefficients = guidedCoefficients(planes, Math.max(1, Math.round(radius / step)), epsilon);
  const xs = axisSamples(read.width, step, planes.w);
  const ys = axisSamples(read.height, step, planes.h);
  const binary = new Uint8Array(region.width * region.height);
  const alpha = new Uint8Array(region.width * region.height);
  const flat = flatCells(coefficients);
  const spans = columnSpans(region, read, xs);
  // One row of each coefficient plane, blended between its two source rows.
  const rows = coefficients.map(() => new Float32Array(planes.w));
  const [ar, ag, ab, b] = rows as [Float32Array, Float32Array, Float32Array, Float32Array];
  let area = 0;
  for (let y = 0; y < region.height; y++) {
    const ry = region.y + y - read.y;
    const upper = ys.lower[ry]! * planes.w;
    const lower = ys.upper[ry]! * planes.w;
    const wy = ys.weight[ry]!;
    coefficients.forEach((plane, k) => {
      const row = rows[k]!;
      for (let c = 0; c < planes.w; c++) row[c] = plane[upper + c]! + (plane[lower + c]! - plane[upper + c]!) * wy;
    });
    const src = ((region.y + y - top) * width + (region.x - left)) * 3;
    const dst = y * region.width;
    for (let k = 0; k < spans.count; k++) {
      const [from, to, c0, c1] = [spans.from[k]!, spans.from[k + 1]!, spans.lower[k]!, spans.upper[k]!];
      const f = flat[upper + c0]!;
      if (f >= 0 && flat[upper + c1] === f && flat[lower + c0] === f && flat[lower + c1] === f) {
        // The window held one mask value all round: the output is that value.
        if (f === 1) {
          binary.fill(255, dst + from, dst + to);
          alpha.fill(255, dst + from, dst + to);
          area += to - from;
        }
        continue;
      }
      for (let x = from; x < to; x++) {
        const wx = xs.weight[region.x + x - read.x]!;
        const s = src + x * 3;
        const q =
          ((ar[c0]! + (ar[c1]! - ar[c0]!) * wx) * pixels.data[s]! +
            (ag[c0]! + (ag[c1]! - ag[c0]!) * wx) * pixels.data[s + 1]! +
            (ab[c0]! + (ab[c1]! - ab[c0]!) * wx) * pixels.data[s + 2]!) / 255 +
          b[c0]! + (b[c1]! - b[c0]!) * wx;
        alpha[dst + x] = Math.max(0, Math.min(255, Math.round(((q - 0.5) * ALPHA_RAMP + 0.5) * 255)));
        if (q > 0.5) {
          binary[dst + x] = 255;
          area++;
        }
      }
    }
  }
  // Refinement moves edges; it never loses the object: when nothing is left, the model's mask stays.
  if (area === 0) area = placeMask(mask, region, binary, alpha);
  return { mask: { box: { ...region }, data: binary }, alpha: { box: { ...region }, data: alpha }, area };
}

/** Copies `mask` into `region`-sized binary and alpha planes (the region holds its box); returns its area. */
function placeMask(mask: BoxMask, region: Box, binary: Uint8Array, alpha: Uint8Array): number {
  alpha.fill(0);
  let area = 0;
  for (let y = 0; y < mask.box.height; y++) {
    for (let x = 0; x < mask.box.width; x++) {
      const value = mask.data[y * mask.box.width + x]! ? 255 : 0;
      const i = (mask.box.y + y - region.y) * region.width + (mask.box.x + x - region.x);
      binary[i] = value;
      alpha[i] = value;
      if (value) area++;
    }
  }
  return area;
}
