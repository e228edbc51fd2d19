/**
 * The background region: every pixel of the image that no object mask covers. Pure.
 */
import type { BoxMask } from './types.js';

/** A full-image mask (0/255, row-major) and its number of set pixels. */
export interface FullMask {
  data: Uint8Array;
  area: number;
}

/** Complement of the union of `masks`, over a `width`×`height` image. */
export function backgroundMask(masks: readonly BoxMask[], width: number, height: number): FullMask {
  const data = new Uint8Array(width * height).fill(255);
  for (const { box, data: m } of masks) {
    for (let y = 0; y < box.height; y++) {
      const src = y * box.width;
      const dst = (box.y + y) * width + box.x;
      for (let x = 0; x < box.width; x++) if (m[src + x] !== 0) data[dst + x] = 0;
    }
  }
  let covered = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0) covered++;
  return { data, area: data.length - covered };
}
