/**
 * Boundary F-score of a predicted mask against a true one (Martin et al., 2004; the boundary
 * measure of DAVIS, Perazzi et al., 2016): how much of each outline lies within `tolerance` pixels
 * of the other. Mask IoU hardly moves when an edge shifts by two pixels on a large object; this
 * does. Pure.
 *
 * - Boundary of a mask: its set pixels that have an unset 4-neighbour. The photo's own frame is
 *   not a boundary (an object cut by the frame has no edge there to find).
 * - Precision: predicted boundary pixels within `tolerance` (Euclidean) of a true boundary pixel,
 *   over all predicted boundary pixels; recall the other way round; F their harmonic mean.
 */
import type { Box, BoxMask } from './types.js';

/** One boundary comparison. */
export interface BoundaryScore {
  precision: number;
  recall: number;
  /** Harmonic mean of precision and recall (1 when both outlines are empty, 0 when one is). */
  f: number;
}

function isSet(mask: BoxMask, x: number, y: number): boolean {
  const { box } = mask;
  return x >= box.x && y >= box.y && x < box.x + box.width && y < box.y + box.height && mask.data[(y - box.y) * box.width + (x - box.x)] !== 0;
}

/** The mask's boundary pixels as a bitmap over `frame`. */
function boundaryMap(mask: BoxMask, frame: Box, width: number, height: number): Uint8Array {
  const map = new Uint8Array(frame.width * frame.height);
  const { box } = mask;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      if (!isSet(mask, x, y)) continue;
      const edge =
        (x > 0 && !isSet(mask, x - 1, y)) ||
        (x < width - 1 && !isSet(mask, x + 1, y)) ||
        (y > 0 && !isSet(mask, x, y - 1)) ||
        (y < height - 1 && !isSet(mask, x, y + 1));
      if (edge) map[(y - frame.y) * frame.width + (x - frame.x)] = 1;
    }
  }
  return map;
}

/** Offsets within a disc of radius `r`. */
function disc(r: number): [number, number][] {
  const offsets: [number, number][] = [];
  const reach = Math.floor(r);
  for (let dy = -reach; dy <= reach; dy++) for (let dx = -reach; dx <= reach; dx++) if (dx * dx + dy * dy <= r * r) offsets.push([dx, dy]);
  return offsets;
}

/** Share of the `from` boundary pixels with a `to` boundary pixel within the disc. */
function within(from: Uint8Array, to: Uint8Array, frame: Box, offsets: readonly [number, number][]): { hit: number; total: number } {
  let hit = 0;
  let total = 0;
  for (let y = 0; y < frame.height; y++) {
    for (let x = 0; x < frame.width; x++) {
      if (!from[y * frame.width + x]) continue;
      total++;
      for (const [dx, dy] of offsets) {
        const u = x + dx;
        const v = y + dy;
        if (u >= 0 && v >= 0 && u < frame.width && v < frame.height && to[v * frame.width + u]) {
          hit++;
          break;
        }
      }
    }
  }
  return { hit, total };
}

/**
 * Boundary precision, recall and F of `predicted` against `truth` (both in the coordinates of one
 * `width`×`height` photo), counting a boundary pixel as found within `tolerance` pixels.
 */
export function boundaryF(predicted: BoxMask, truth: BoxMask, tolerance: number, width: number, height: number): BoundaryScore {
  if (!(tolerance >= 0)) throw new RangeError(`boundaryF: tolerance must be ≥ 0 pixels, got ${tolerance}`);
  const boxes = [predicted.box, truth.box].filter((b) => b.width > 0 && b.height > 0);
  if (boxes.length === 0) return { precision: 1, recall: 1, f: 1 };
  const x0 = Math.min(...boxes.map((b) => b.x));
  const y0 = Math.min(...boxes.map((b) => b.y));
  const frame = {
    x: x0,
    y: y0,
    width: Math.max(...boxes.map((b) => b.x + b.width)) - x0,
    height: Math.max(...boxes.map((b) => b.y + b.height)) - y0,
  };
  const p = boundaryMap(predicted, frame, width, height);
  const t = boundaryMap(truth, frame, width, height);
  const offsets = disc(tolerance);
  const precision = within(p, t, frame, offsets);
  const recall = within(t, p, frame, offsets);
  if (precision.total === 0 && recall.total === 0) return { precision: 1, recall: 1, f: 1 };
  const pr = precision.total === 0 ? 0 : precision.hit / precision.total;
  const rc = recall.total === 0 ? 0 : recall.hit / recall.total;
  return { precision: pr, recall: rc, f: pr + rc === 0 ? 0 : (2 * pr * rc) / (pr + rc) };
}
