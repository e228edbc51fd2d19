/**
 * Encoding masks in COCO's run-length encoding (RLE), as pycocotools' `mask.encode` writes it, so
 * that exported masks load in pycocotools, FiftyOne, CVAT and detectron2 unchanged. Reading RLE
 * back is coco-masks.ts's.
 *
 * Glossary:
 * - run lengths (`counts`): the mask read column by column (column-major, Fortran order: down the
 *   first column, then the second...), as alternating runs of 0s and 1s, always starting with 0s
 *   (a mask whose first pixel is set starts with a run of zero 0s). They sum to width × height.
 * - compressed counts: the run lengths as one ASCII string. From the fourth run on, each is
 *   stored as its difference from the run two before it (same colour, so usually small); each
 *   value is split into 5-bit groups, least significant first, the last group's top bit being
 *   the sign; a 6th bit says another group follows; 48 ('0') is added to make a printable
 *   character.
 */
import type { BoxMask } from './types.js';

/** A mask in COCO RLE as instances files hold it: `size` is [height, width], `counts` the compressed string. */
export interface CompressedRle {
  size: [number, number];
  counts: string;
}

/**
 * Column-major run lengths of a mask stored inside its box, placed on a `width`×`height` frame
 * (pixels outside the box are 0). Cost grows with the box's area, not the frame's.
 */
export function runLengths(mask: BoxMask, width: number, height: number): number[] {
  const { x, y, width: w, height: h } = mask.box;
  checkBoxMask(mask, width, height);
  const counts: number[] = [];
  let colour = 0;
  let run = 0;
  const add = (value: number, length: number) => {
    if (value === colour) {
      run += length;
    } else if (length > 0) {
      counts.push(run);
      colour = value;
      run = length;
    }
  };
  add(0, x * height);
  const below = height - y - h;
  for (let column = 0; column < w; column++) {
    add(0, y);
    for (let row = 0, at = column; row < h; row++, at += w) add(mask.data[at] === 0 ? 0 : 1, 1);
    add(0, below);
  }
  add(0, (width - x - w) * height);
  counts.push(run);
  return counts;
}

/** How many pixels run lengths set: the sum of the runs of 1s. */
export function runLengthArea(counts: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < counts.length; i += 2) area += counts[i]!;
  return area;
}

/** Run lengths as COCO's compressed string (pycocotools' rleToString). */
export function compressRunLengths(counts: readonly number[]): string {
  const codes: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    // Arithmetic rather than bit operators, which would wrap past 2^31 pixels.
    let value = i > 2 ? counts[i]! - counts[i - 2]! : counts[i]!;
    for (;;) {
      const group = ((value % 32) + 32) % 32;
      value = (value - group) / 32;
      // Done once what is left is the sign extension of the group's top bit.
      const more = group & 0x10 ? value !== -1 : value !== 0;
      codes.push((more ? group | 0x20 : group) + 48);
      if (!more) break;
    }
  }
  let text = '';
  for (let start = 0; start < codes.length; start += 8192) text += String.fromCharCode(...codes.slice(start, start + 8192));
  return text;
}

/** A mask in COCO RLE, from a mask stored inside its box on a `width`×`height` frame. */
export function encodeRle(mask: BoxMask, width: number, height: number): CompressedRle {
  return { size: [height, width], counts: compressRunLengths(runLengths(mask, width, height)) };
}

function checkBoxMask(mask: BoxMask, width: number, height: number): void {
  const { x, y, width: w, height: h } = mask.box;
  if (![x, y, w, h, width, height].every((n) => Number.isInteger(n) && n >= 0) || x + w > width || y + h > height) {
    throw new RangeError(`mask box ${x},${y} ${w}x${h} does not lie inside a ${width}x${height} frame`);
  }
  if (mask.data.length !== w * h) {
    throw new RangeError(`mask data has ${mask.data.length} values; its ${w}x${h} box needs ${w * h}`);
  }
}
