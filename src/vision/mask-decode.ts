/**
 * Instance-mask decoding for YOLO-seg: a mask is sigmoid(coefficients · prototypes), cropped to its
 * box and brought back to original-image pixels. Only the prototype cells under the box are
 * combined, and the upsampling runs only inside the box, so cost grows with the object's size,
 * not the photo's (a 12-megapixel photo costs little more than a small one for small objects).
 */
import { imageToInputX, imageToInputY, type Letterbox } from './letterbox.js';
import type { Box, BoxMask } from './types.js';

/** The model's mask prototypes: `count` planes of `width`×`height`, planar row-major. */
export interface Prototypes {
  data: Float32Array;
  count: number;
  width: number;
  height: number;
}

/** A decoded mask and how many of its pixels are set. */
export interface DecodedMask {
  mask: BoxMask;
  area: number;
  /** With `keepProbability`: each box pixel's probability before thresholding, as 0..255. */
  probability?: Uint8Array;
}

/** Sampling positions along one axis: for each output pixel, two source cells and a weight. */
interface AxisSamples {
  lower: Int32Array;
  upper: Int32Array;
  weight: Float32Array;
  /** First and last source cell touched (inclusive). */
  first: number;
  last: number;
}

/**
 * For `length` output pixels starting at `start` (original pixels), where each output pixel's centre
 * maps to prototype coordinate `toProto(x + 0.5) - 0.5`, finds the bilinear neighbours (clamped to
 * the prototype grid) and their weight.
 */
function sampleAxis(start: number, length: number, size: number, toProto: (x: number) => number): AxisSamples {
  const lower = new Int32Array(length);
  const upper = new Int32Array(length);
  const weight = new Float32Array(length);
  let first = size - 1;
  let last = 0;
  for (let i = 0; i < length; i++) {
    const p = Math.min(size - 1, Math.max(0, toProto(start + i + 0.5) - 0.5));
    const lo = Math.floor(p);
    const hi = Math.min(size - 1, lo + 1);
    lower[i] = lo;
    upper[i] = hi;
    weight[i] = p - lo;
    if (lo < first) first = lo;
    if (hi > last) last = hi;
  }
  return { lower, upper, weight, first, last };
}

/**
 * Decodes one mask inside `box` (original pixels). `coefficients` are the detection's mask
 * coefficients (length `protos.count`); `letterbox` places the original image in the model input,
 * whose size is a whole multiple of the prototype grid. A pixel is set when the bilinearly
 * upsampled probability exceeds `threshold` (default 0.5); `keepProbability` also returns those
 * probabilities (for merging several views' masks before thresholding).
 */
export function decodeBoxMask(
  coefficients: ArrayLike<number>,
  protos: Prototypes,
  box: Box,
  letterbox: Letterbox,
  threshold = 0.5,
  keepProbability = false,
): DecodedMask {
  const { width: pw, height: ph, count, data } = protos;
  const sx = pw / letterbox.inputWidth;
  const sy = ph / letterbox.inputHeight;
  const xs = sampleAxis(box.x, box.width, pw, (x) => imageToInputX(letterbox, x) * sx);
  const ys = sampleAxis(box.y, box.height, ph, (y) => imageToInputY(letterbox, y) * sy);

  // Probabilities over the prototype cells under the box only.
  const cols = xs.last - xs.first + 1;
  const rows = ys.last - ys.first + 1;
  const prob = new Float32Array(rows * cols);
  const plane = pw * ph;
  for (let k = 0; k < count; k++) {
    const c = coefficients[k]!;
    const base = k * plane;
    for (let r = 0; r < rows; r++) {
      const src = base + (ys.first + r) * pw + xs.first;
      const dst = r * cols;
      for (let q = 0; q < cols; q++) prob[dst + q]! += c * data[src + q]!;
    }
  }
  for (let i = 0; i < prob.length; i++) prob[i] = 1 / (1 + Math.exp(-prob[i]!));

  // Separable bilinear upsampling: interpolate every prototype row to the box's width once, then
  // each output pixel is one blend of two such rows.
  const w = box.width;
  const widened = new Float32Array(rows * w);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    const dst = r * w;
    for (let x = 0; x < w; x++) {
      const a = prob[src + xs.lower[x]! - xs.first]!;
      const b = prob[src + xs.upper[x]! - xs.first]!;
      widened[dst + x] = a + (b - a) * xs.weight[x]!;
    }
  }
  const out = new Uint8Array(w * box.height);
  const probability = keepProbability ? new Uint8Array(w * box.height) : undefined;
  let area = 0;
  for (let y = 0; y < box.height; y++) {
    const top = (ys.lower[y]! - ys.first) * w;
    const bottom = (ys.upper[y]! - ys.first) * w;
    const wy = ys.weight[y]!;
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const a = widened[top + x]!;
      const p = a + (widened[bottom + x]! - a) * wy;
      if (probability) probability[row + x] = Math.round(p * 255);
      if (p > threshold) {
        out[row + x] = 255;
        area++;
      }
    }
  }
  return { mask: { box: { ...box }, data: out }, area, ...(probability ? { probability } : {}) };
}
