/**
 * Masks and boxes of COCO annotations, as BoxMasks: polygons rasterised, RLE decoded, and the IoU
 * of a detection with a truth the way pycocotools measures it (crowd truths: intersection over the
 * detection's area). Pure.
 */
import type { Box, BoxMask } from './types.js';

/** A COCO run-length encoded mask: column-major runs, starting with a run of 0s. */
export interface CocoRle {
  /** [height, width] */
  size: readonly [number, number];
  /** Run lengths, or their compressed text form (pycocotools' `counts` string). */
  counts: readonly number[] | string;
}

/** A COCO box: [x, y, width, height] in pixels, real-valued. */
export type CocoBox = readonly [number, number, number, number];

const EMPTY: BoxMask = Object.freeze({ box: Object.freeze({ x: 0, y: 0, width: 0, height: 0 }), data: new Uint8Array(0) });

/**
 * Reads pycocotools' compressed counts: each count is 5-bit groups (least significant first, as
 * characters from '0'), 0x20 meaning another group follows and 0x10 in the last group the sign;
 * counts after the second are stored as the difference from the count two before.
 */
export function decodeCountsString(text: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < text.length) {
    let value = 0;
    let scale = 1;
    let more = true;
    while (more) {
      const group = text.charCodeAt(p++) - 48;
      if (Number.isNaN(group) || group < 0 || group > 63) throw new Error(`RLE counts: unexpected character at ${p - 1}`);
      value += (group & 0x1f) * scale;
      scale *= 32;
      more = (group & 0x20) !== 0;
      if (!more && (group & 0x10) !== 0) value -= scale;
    }
    if (counts.length > 2) value += counts[counts.length - 2]!;
    counts.push(value);
  }
  return counts;
}

/** Decodes a COCO RLE (either form) into a BoxMask around its pixels. */
export function decodeRle(rle: CocoRle): BoxMask {
  const [height, width] = rle.size;
  const counts = typeof rle.counts === 'string' ? decodeCountsString(rle.counts) : rle.counts;
  const total = counts.reduce((sum, c) => sum + c, 0);
  if (total !== width * height) throw new Error(`RLE counts add up to ${total}, but the mask is ${width}x${height} = ${width * height} pixels`);
  // Runs of 1s as [start, end) in column-major order.
  const runs: [number, number][] = [];
  let at = 0;
  counts.forEach((count, i) => {
    if (i % 2 === 1 && count > 0) runs.push([at, at + count]);
    at += count;
  });
  if (runs.length === 0) return EMPTY;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (const [start, end] of runs) {
    const first = Math.floor(start / height);
    const last = Math.floor((end - 1) / height);
    x0 = Math.min(x0, first);
    x1 = Math.max(x1, last);
    // A run crossing a column boundary touches the bottom of one column and the top of the next.
    y0 = Math.min(y0, first === last ? start % height : 0);
    y1 = Math.max(y1, first === last ? (end - 1) % height : height - 1);
  }
  const box: Box = { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
  const data = new Uint8Array(box.width * box.height);
  for (const [start, end] of runs) {
    for (let i = start; i < end; i++) {
      const x = Math.floor(i / height);
      const y = i % height;
      if (y >= y0 && y <= y1) data[(y - y0) * box.width + (x - x0)] = 255;
    }
  }
  return { box, data };
}

/**
 * Rasterises COCO polygons ([x1, y1, x2, y2, …] in pixel coordinates, a pixel covering [x, x+1))
 * into one BoxMask: a pixel is set when its centre lies inside a polygon (even-odd rule within a
 * polygon, union across polygons). pycocotools samples on a 1/5-pixel grid instead, so pixels
 * along the edges can differ (see README, "Measuring quality").
 */
export function rasterizePolygons(polygons: readonly (readonly number[])[], width: number, height: number): BoxMask {
  const shapes = polygons.filter((p) => p.length >= 6);
  const xs = shapes.flatMap((p) => p.filter((_, i) => i % 2 === 0));
  const ys = shapes.flatMap((p) => p.filter((_, i) => i % 2 === 1));
  // Pixels whose centre can be inside the polygons' bounds, within the image.
  const left = Math.max(0, Math.ceil(Math.min(...xs) - 0.5));
  const right = Math.min(width, Math.ceil(Math.max(...xs) - 0.5));
  const top = Math.max(0, Math.ceil(Math.min(...ys) - 0.5));
  const bottom = Math.min(height, Math.ceil(Math.max(...ys) - 0.5));
  if (shapes.length === 0 || right <= left || bottom <= top) return EMPTY;
  const box: Box = { x: left, y: top, width: right - left, height: bottom - top };
  const data = new Uint8Array(box.width * box.height);
  for (let y = top; y < bottom; y++) {
    const centre = y + 0.5;
    for (const polygon of shapes) {
      const crossings: number[] = [];
      const n = polygon.length / 2;
      for (let i = 0; i < n; i++) {
        const [xa, ya] = [polygon[2 * i]!, polygon[2 * i + 1]!];
        const j = (i + 1) % n;
        const [xb, yb] = [polygon[2 * j]!, polygon[2 * j + 1]!];
        // Half-open in y, so a vertex on the scanline is counted once.
        if (ya <= centre !== yb <= centre) crossings.push(xa + ((centre - ya) * (xb - xa)) / (yb - ya));
      }
      crossings.sort((a, b) => a - b);
      for (let k = 0; k + 1 < crossings.length; k += 2) {
        const from = Math.max(left, Math.ceil(crossings[k]! - 0.5));
        const to = Math.min(right, Math.ceil(crossings[k + 1]! - 0.5));
        if (to > from) data.fill(255, (y - top) * box.width + (from - left), (y - top) * box.width + (to - left));
      }
    }
  }
  return { box, data };
}

/** Pixels set in a BoxMask. */
export function maskArea(mask: BoxMask): number {
  let area = 0;
  for (const value of mask.data) if (value) area++;
  return area;
}

/** Pixels set in both masks. */
export function maskIntersection(a: BoxMask, b: BoxMask): number {
  const x0 = Math.max(a.box.x, b.box.x);
  const x1 = Math.min(a.box.x + a.box.width, b.box.x + b.box.width);
  const y0 = Math.max(a.box.y, b.box.y);
  const y1 = Math.min(a.box.y + a.box.height, b.box.y + b.box.height);
  let count = 0;
  for (let y = y0; y < y1; y++) {
    const rowA = (y - a.box.y) * a.box.width - a.box.x;
    const rowB = (y - b.box.y) * b.box.width - b.box.x;
    for (let x = x0; x < x1; x++) if (a.data[rowA + x] && b.data[rowB + x]) count++;
  }
  return count;
}

/** A mask and its pixel count. */
export interface MaskRegion {
  mask: BoxMask;
  area: number;
}

/** pycocotools' mask IoU of a detection with a truth; over a crowd truth, intersection / detection area. */
export function maskIou(detection: MaskRegion, truth: MaskRegion, crowd: boolean): number {
  const intersection = maskIntersection(detection.mask, truth.mask);
  if (intersection === 0) return 0;
  return intersection / (crowd ? detection.area : detection.area + truth.area - intersection);
}

/** pycocotools' box IoU of a detection with a truth; over a crowd truth, intersection / detection area. */
export function boxIou(detection: CocoBox, truth: CocoBox, crowd: boolean): number {
  const w = Math.min(detection[0] + detection[2], truth[0] + truth[2]) - Math.max(detection[0], truth[0]);
  const h = Math.min(detection[1] + detection[3], truth[1] + truth[3]) - Math.max(detection[1], truth[1]);
  if (w <= 0 || h <= 0) return 0;
  const detectionArea = detection[2] * detection[3];
  return (w * h) / (crowd ? detectionArea : detectionArea + truth[2] * truth[3] - w * h);
}
