/**
 * Glossary of the vision module.
 * - Box: an axis-aligned rectangle in original-image pixels (after EXIF orientation).
 * - BoxMask: a binary mask stored only inside its box (0 or 255 per pixel, row-major, box-sized);
 *   the full-image mask is this placed at (box.x, box.y) on black.
 * - DetectedSegment: one object the model found: class, score, box and BoxMask.
 * - Background: the pixels no DetectedSegment covers.
 */

/**
 * Defaults of segmentation: SegmentOptions, and the largest image decoded. SEGCAT_MIN_SCORE,
 * SEGCAT_MAX_DETECTIONS and MAX_IMAGE_PIXELS (src/config.ts) default to these.
 */
export const SEGMENT_DEFAULTS = Object.freeze({
  minScore: 0.25,
  maxDetections: 100,
  iouThreshold: 0.6,
  maxPixels: 50_000_000,
});

/**
 * Segmentation qualities (SEGCAT_QUALITY): `fast` runs the model once per photo; `accurate` runs
 * both models (and tiles of large photos) and merges what they find (src/vision/accurate.ts).
 */
export const QUALITIES = ['fast', 'accurate'] as const;

/** A segmentation quality. */
export type Quality = (typeof QUALITIES)[number];

/** A rectangle in original-image pixels; x/y are the top-left corner. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Binary mask limited to its box: `data.length === box.width * box.height`, values 0 or 255. */
export interface BoxMask {
  box: Box;
  data: Uint8Array;
}

/** One object found in an image. */
export interface DetectedSegment {
  /** Index into the model's class names. */
  classId: number;
  /** COCO class name from the model's metadata, e.g. "dining table". */
  label: string;
  /** Confidence in 0..1. */
  score: number;
  /** Pixels covered by the mask. */
  area: number;
  mask: BoxMask;
  /**
   * Only when SegmentOptions.keepProbabilities asked for it: the model's probability of each pixel
   * of the mask's box, as 0..255 (the mask is where it exceeds 127.5); accurate's merge averages these.
   */
  probability?: Uint8Array;
}

/** Time spent in each stage of one segmentation, in milliseconds. */
export interface StageTimings {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

/** Everything a segmentation produces for one image. */
export interface SegmentationResult {
  /** Size of the image as people see it (after EXIF orientation). */
  width: number;
  height: number;
  segments: DetectedSegment[];
  timings: StageTimings;
}

/** Identity of a loaded model, recorded with every segmentation. */
export interface ModelInfo {
  /** Manifest name, e.g. "yolo11n-seg-uint8". */
  name: string;
  /** Version string from the model's metadata (e.g. Ultralytics 8.3.67). */
  version: string;
  inputWidth: number;
  inputHeight: number;
  classNames: readonly string[];
}

/** Options of one segmentation run. */
export interface SegmentOptions {
  /** Detections below this score are dropped (default 0.25). */
  minScore?: number;
  /** At most this many detections are kept, best first (default 100). */
  maxDetections?: number;
  /** Same-class boxes overlapping a better one by more than this IoU are dropped (default 0.6). */
  iouThreshold?: number;
  /** Keep each mask's probabilities (DetectedSegment.probability), for merging views (default false). */
  keepProbabilities?: boolean;
}
