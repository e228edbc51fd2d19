/**
 * Post-processing of a YOLO-seg run: candidates → per-class NMS → boxes and masks in original-image
 * pixels. Pure: tensors and letterbox in, segments out.
 */
import { modelBoxToImageBox, type Letterbox } from './letterbox.js';
import { decodeBoxMask } from './mask-decode.js';
import { findCandidates, nonMaxSuppression } from './nms.js';
import type { DetectedSegment } from './types.js';

/** A model output: flat data and its dimensions. */
export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

/** Thresholds applied after the model run. */
export interface PostprocessOptions {
  minScore: number;
  maxDetections: number;
  /** Same-class boxes overlapping a better one by more than this are dropped. */
  iouThreshold: number;
  /** Keep each mask's probabilities too (DetectedSegment.probability). */
  keepProbabilities?: boolean;
}

/**
 * Turns detections [1, 4 + classes + K, N] and prototypes [1, K, H, W] into segments, best first.
 * Detections whose mask comes out empty are dropped: they have nothing to cut out.
 */
export function decodeSegments(
  detections: Tensor,
  prototypes: Tensor,
  letterbox: Letterbox,
  classNames: readonly string[],
  options: PostprocessOptions,
): DetectedSegment[] {
  const channels = detections.dims[1]!;
  const anchors = detections.dims[2]!;
  const classCount = classNames.length;
  const [, count, height, width] = prototypes.dims as [number, number, number, number];
  if (channels !== 4 + classCount + count) {
    throw new Error(`model output has ${channels} rows, expected 4 + ${classCount} classes + ${count} mask coefficients`);
  }
  const candidates = findCandidates(detections.data, anchors, classCount, options.minScore);
  const kept = nonMaxSuppression(candidates, options.iouThreshold, options.maxDetections);
  const protos = { data: prototypes.data, count, width, height };
  const coefficients = new Float32Array(count);
  const segments: DetectedSegment[] = [];
  for (const candidate of kept) {
    const box = modelBoxToImageBox(letterbox, candidate.x1, candidate.y1, candidate.x2, candidate.y2);
    if (!box) continue;
    for (let k = 0; k < count; k++) coefficients[k] = detections.data[(4 + classCount + k) * anchors + candidate.anchor]!;
    const { mask, area, probability } = decodeBoxMask(coefficients, protos, box, letterbox, 0.5, options.keepProbabilities);
    if (area === 0) continue;
    const segment: DetectedSegment = { classId: candidate.classId, label: classNames[candidate.classId]!, score: candidate.score, area, mask };
    if (probability) segment.probability = probability;
    segments.push(segment);
  }
  return segments;
}
