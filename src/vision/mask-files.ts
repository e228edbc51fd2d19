/**
 * Writes a segmentation as the recipe's mask files: one full-size PNG per object named
 * `m<root>.<score>.<label>.<x>_<y>_<w>_<h>.png`, plus `m<root>.background.png`.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { backgroundMaskFilename, objectMaskFilename } from './mask-filename.js';
import { encodeBackgroundPng, encodeMaskPng } from './raster.js';
import type { Box, SegmentationResult } from './types.js';

/** One written object mask. */
export interface MaskFile {
  path: string;
  label: string;
  score: number;
  box: Box;
  area: number;
}

/** Every file written for one image. */
export interface MaskFileSet {
  objects: MaskFile[];
  background: { path: string; area: number };
}

/** Writes the object and background masks of `result` into `outDir`, named after `root`. */
export async function writeMaskFiles(result: SegmentationResult, root: string, outDir: string): Promise<MaskFileSet> {
  const { width, height, segments } = result;
  const objects = await Promise.all(
    segments.map(async (segment) => {
      const file = path.join(outDir, objectMaskFilename(root, segment.label, segment.score, segment.mask.box));
      await writeFile(file, await encodeMaskPng(segment.mask, width, height));
      return { path: file, label: segment.label, score: segment.score, box: segment.mask.box, area: segment.area };
    }),
  );
  const { png, area } = await encodeBackgroundPng(segments, width, height);
  const backgroundPath = path.join(outDir, backgroundMaskFilename(root));
  await writeFile(backgroundPath, png);
  return { objects, background: { path: backgroundPath, area } };
}
