/**
 * Measures mask refinement (refine.ts) on a COCO instances file, against the model's own masks:
 * mask AP (AP75 is where edges show), the boundary F-score of matched objects at a few pixels'
 * tolerance, and the time refinement takes per segment, as a share of the model's time per photo
 * measured in the same run. No database; the bench (scripts/lib/refine-quality.mjs) prints it.
 *
 * Matched objects: per image and category, detections scoring at least SEGMENT_DEFAULTS.minScore
 * (what the catalogue keeps), best first, each take the unmatched non-crowd truth their model mask
 * overlaps most, at mask IoU ≥ 0.5. The pairs are found once, on the model's masks, so every
 * variant is scored on the same objects.
 */
import path from 'node:path';
import { boundaryF } from './boundary-f.js';
import { evaluateGroups, MAX_DETECTIONS, type ApSummary, type EvalGroup } from './coco-eval.js';
import type { CocoAnnotation, CocoInstances } from './coco-instances.js';
import { maskIou, type MaskRegion } from './coco-masks.js';
import type { RgbRaster } from './cutout-pixels.js';
import { EVALUATION_MIN_SCORE, mapClasses, truthMask } from './model-evaluation.js';
import { planRefinement, refineMask, type RefineOptions } from './refine.js';
import type { Segmenter } from './segmenter.js';
import { SEGMENT_DEFAULTS, type DetectedSegment } from './types.js';

/** One way of refining, by name. */
export interface RefineVariant {
  name: string;
  options: RefineOptions;
}

/** Options of evaluateRefinement. */
export interface RefineEvaluationOptions {
  /** Refinements to measure beside the model's masks (default: REFINE_DEFAULTS alone). */
  variants?: readonly RefineVariant[];
  /** Boundary tolerances in pixels (default 1, 2, 3). */
  tolerances?: readonly number[];
  /** Called after each image. */
  onImage?: (progress: { done: number; total: number }) => void;
}

/** The figures of one kind of mask (the model's, or a refinement), in 0..1. */
export interface RefineRow {
  name: string;
  mask: ApSummary;
  /** Mean boundary F over the matched objects, at each tolerance (same order as `tolerances`). */
  boundaryF: number[];
  /** Matched objects whose boundary F at the middle tolerance went up / down against the model's masks. */
  better: number;
  worse: number;
  /** Mean refinement time per kept segment (score ≥ minScore), ms; 0 for the model's masks. */
  msPerSegment: number;
}

/** Result of evaluateRefinement. */
export interface RefineEvaluation {
  images: number;
  /** Non-crowd annotations. */
  objects: number;
  /** Matched objects the boundary F is averaged over. */
  matched: number;
  /** Kept segments the time is averaged over. */
  segments: number;
  tolerances: number[];
  /** Mean model run per photo in this run, ms: the yardstick of msPerSegment. */
  modelMsPerImage: number;
  /** The model's masks first, then each variant. */
  rows: RefineRow[];
}

interface Detection {
  categoryId: number;
  segment: DetectedSegment;
  /** The model's mask, then each variant's. */
  masks: MaskRegion[];
}

interface Truth {
  annotation: CocoAnnotation;
  region: MaskRegion;
}

/** Greedy matching of kept detections to non-crowd truths on the model's masks (IoU ≥ 0.5). */
function matchPairs(detections: readonly Detection[], truths: readonly Truth[]): [Detection, Truth][] {
  const pairs: [Detection, Truth][] = [];
  const taken = new Set<Truth>();
  const ranked = detections.filter((d) => d.segment.score >= SEGMENT_DEFAULTS.minScore).sort((a, b) => b.segment.score - a.segment.score);
  for (const detection of ranked) {
    let best: Truth | undefined;
    let bestIou = 0.5;
    for (const truth of truths) {
      if (taken.has(truth) || truth.annotation.crowd || truth.annotation.categoryId !== detection.categoryId) continue;
      const iou = maskIou(detection.masks[0]!, truth.region, false);
      if (iou >= bestIou) [best, bestIou] = [truth, iou];
    }
    if (best) {
      taken.add(best);
      pairs.push([detection, best]);
    }
  }
  return pairs;
}

/** Mask AP groups of one image for the kind of mask at `kind`. */
function maskGroups(imageId: number, detections: readonly Detection[], truths: readonly Truth[], kind: number): EvalGroup[] {
  const categoryIds = new Set([...truths.map((t) => t.annotation.categoryId), ...detections.map((d) => d.categoryId)]);
  return [...categoryIds].map((categoryId) => {
    const ts = truths.filter((t) => t.annotation.categoryId === categoryId);
    const ds = detections.filter((d) => d.categoryId === categoryId);
    return {
      imageId,
      categoryId,
      truths: ts.map((t) => ({ area: t.annotation.area ?? t.region.area, crowd: t.annotation.crowd })),
      detections: ds.map((d) => ({ score: d.segment.score, area: d.masks[kind]!.area })),
      ious: ds.map((d) => ts.map((t) => maskIou(d.masks[kind]!, t.region, t.annotation.crowd))),
    };
  });
}

/**
 * Segments every image of `instances` (under `imagesDir`), refines each detection's mask with each
 * variant, and compares the model's and the refined masks with the annotations. `decode` gives a
 * photo's pixels as the cut-outs see them (raster.ts decodeRgb).
 */
export async function evaluateRefinement(
  segmenter: Segmenter,
  instances: CocoInstances,
  imagesDir: string,
  decode: (file: string) => Promise<RgbRaster>,
  options: RefineEvaluationOptions = {},
): Promise<RefineEvaluation> {
  const variants = options.variants ?? [{ name: 'refined', options: {} }];
  const tolerances = [...(options.tolerances ?? [1, 2, 3])];
  const middle = Math.floor(tolerances.length / 2);
  const kinds = 1 + variants.length;
  const categoryOfClass = mapClasses(segmenter.info.classNames, instances);
  const groups: EvalGroup[][] = Array.from({ length: kinds }, () => []);
  const fSums = Array.from({ length: kinds }, () => tolerances.map(() => 0));
  const better = new Array<number>(kinds).fill(0);
  const worse = new Array<number>(kinds).fill(0);
  const refineMs = new Array<number>(kinds).fill(0);
  let kept = 0;
  let matched = 0;
  let modelMs = 0;
  let objects = 0;
  const images = instances.images;
  for (const [index, image] of images.entries()) {
    const file = path.join(imagesDir, image.fileName);
    const result = await segmenter.segment(file, { minScore: EVALUATION_MIN_SCORE, maxDetections: MAX_DETECTIONS });
    modelMs += result.timings.inferenceMs;
    const pixels = await decode(file);
    if (pixels.width !== image.width || pixels.height !== image.height) {
      throw new Error(`${image.fileName} is ${pixels.width}x${pixels.height} but the annotations say ${image.width}x${image.height}`);
    }
    const truths = instances.annotations
      .filter((a) => a.imageId === image.id)
      .map((annotation): Truth => {
        const region = truthMask(annotation, image);
        if (!region) throw new Error(`annotation ${annotation.id} has no mask; refinement needs masks to measure against`);
        return { annotation, region };
      });
    objects += truths.filter((t) => !t.annotation.crowd).length;
    const detections: Detection[] = [];
    for (const segment of result.segments) {
      const categoryId = categoryOfClass.get(segment.classId);
      if (categoryId === undefined) continue;
      const timed = segment.score >= SEGMENT_DEFAULTS.minScore;
      if (timed) kept++;
      const masks: MaskRegion[] = [{ mask: segment.mask, area: segment.area }];
      variants.forEach((variant, v) => {
        const started = performance.now();
        const refined = refineMask(segment.mask, pixels, planRefinement(segment.mask.box, pixels.width, pixels.height, variant.options));
        if (timed) refineMs[v + 1]! += performance.now() - started;
        masks.push({ mask: refined.mask, area: refined.area });
      });
      detections.push({ categoryId, segment, masks });
    }
    for (let kind = 0; kind < kinds; kind++) groups[kind]!.push(...maskGroups(image.id, detections, truths, kind));
    for (const [detection, truth] of matchPairs(detections, truths)) {
      matched++;
      const scores = detection.masks.map((m) => tolerances.map((t) => boundaryF(m.mask, truth.region.mask, t, image.width, image.height).f));
      scores.forEach((byTolerance, kind) => {
        byTolerance.forEach((f, t) => (fSums[kind]![t]! += f));
        if (byTolerance[middle]! > scores[0]![middle]!) better[kind]!++;
        if (byTolerance[middle]! < scores[0]![middle]!) worse[kind]!++;
      });
    }
    options.onImage?.({ done: index + 1, total: images.length });
  }
  const names = ['model', ...variants.map((v) => v.name)];
  return {
    images: images.length,
    objects,
    matched,
    segments: kept,
    tolerances,
    modelMsPerImage: images.length === 0 ? 0 : modelMs / images.length,
    rows: names.map((name, kind) => ({
      name,
      mask: evaluateGroups(groups[kind]!).summary,
      boundaryF: fSums[kind]!.map((sum) => (matched === 0 ? 0 : sum / matched)),
      better: better[kind]!,
      worse: worse[kind]!,
      msPerSegment: kept === 0 ? 0 : refineMs[kind]! / kept,
    })),
  };
}
