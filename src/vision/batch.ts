/**
 * Segmenting many files into mask files, as `segcat segment` does: the next image decodes while the
 * current one is in the model, results come back in input order, and a bad file becomes an
 * outcome with its error instead of stopping the batch.
 */
import { maskRoot } from './mask-filename.js';
import { writeMaskFiles, type MaskFileSet } from './mask-files.js';
import type { Segmenter } from './segmenter.js';
import type { SegmentOptions } from './types.js';

/** What happened to one file of a batch. */
export type BatchOutcome =
  | { file: string; width: number; height: number; masks: MaskFileSet }
  | { file: string; error: string };

/** Options of segmentFiles. */
export interface BatchOptions {
  /** Options of every segmentation. */
  segment?: SegmentOptions;
  /** Images in flight at once (default 2: one in the model, one decoding or writing). */
  depth?: number;
}

async function segmentFile(segmenter: Segmenter, file: string, outDir: string, options: SegmentOptions): Promise<BatchOutcome> {
  try {
    const result = await segmenter.segment(file, options);
    const masks = await writeMaskFiles(result, maskRoot(file), outDir);
    return { file, width: result.width, height: result.height, masks };
  } catch (error) {
    return { file, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Segments `files` into `outDir`, calling `onOutcome` for each in input order; resolves to all outcomes. */
export async function segmentFiles(
  segmenter: Segmenter,
  files: readonly string[],
  outDir: string,
  options: BatchOptions = {},
  onOutcome: (outcome: BatchOutcome) => void = () => {},
): Promise<BatchOutcome[]> {
  const running: Promise<BatchOutcome>[] = [];
  const startNext = () => {
    const file = files[running.length];
    if (file !== undefined) running.push(segmentFile(segmenter, file, outDir, options.segment ?? {}));
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
