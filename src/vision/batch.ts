/**
 * Segmenting many files into mask files, as `segcat segment` does: the next image decodes while the
 * current one is in the model, results come back in input order, and a bad file becomes an
 * outcome with its error instead of stopping the batch.
 */
import { distinctMaskRoots } from './mask-filename.js';
import { writeMaskFiles, type MaskFileSet } from './mask-files.js';
import type { Segmenter } from './segmenter.js';
import type { SegmentOptions } from './types.js';

/** What happened to one file of a batch. */
export type BatchOutcome =
  | { file: string; root: string; width: number; height: number; masks: MaskFileSet }
  | { file: string; root: string; error: string };

/** Options of segmentFiles. */
export interface BatchOptions {
  /** Options of every segmentation. */
  segment?: SegmentOptions;
  /** Images in flight at once (default 2: one in the model, one decoding or writing). */
  depth?: number;
}

async function segmentFile(segmenter: Segmenter, file: string, root: string, outDir: string, options: SegmentOptions): Promise<BatchOutcome> {
  try {
    const result = await segmenter.segment(file, options);
    const masks = await writeMaskFiles(result, root, outDir);
    return { file, root, width: result.width, height: result.height, masks };
  } catch (error) {
    return { file, root, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Segments `files` into `outDir` (images with the same base name get distinct roots, see
 * distinctMaskRoots), calling `onOutcome` for each in input order; resolves to all outcomes. */
export async function segmentFiles(
  segmenter: Segmenter,
  files: readonly string[],
  outDir: string,
  options: BatchOptions = {},
  onOutcome: (outcome: BatchOutcome) => void = () => {},
): Promise<BatchOutcome[]> {
  const running: Promise<BatchOutcome>[] = [];
  const roots = distinctMaskRoots(files);
  const startNext = () => {
    const index = running.length;
    const file = files[index];
    if (file !== undefined) running.push(segmentFile(segmenter, file, roots[index]!, outDir, options.segment ?? {}));
  };
  for (let i = 0; i < (options.depth ?? 2); i++) startNext();
  const outcomes: BatchOutcome[] = [];
  for (let i = 0; i < files.length; i++) {
    const outcome = await running[i]!;
    startNext();
    outcomes.push(outcome);
    onOutcome(outcome);
  }
  return outcomes;
}
