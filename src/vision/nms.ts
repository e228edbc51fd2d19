/**
 * Candidate boxes and per-class non-maximum suppression. Pure functions over plain arrays.
 */

/** One box proposed by the model, in model-input pixels (corner form). */
export interface Candidate {
  /** Column of the candidate in the model output (used to fetch its mask coefficients). */
  anchor: number;
  classId: number;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Intersection over union of two corner-form boxes; 0 when either is empty. */
export function iou(a: Candidate, b: Candidate): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy NMS within each class: keeps the best-scoring box and drops same-class boxes that overlap
 * it by more than `iouThreshold`; boxes of different classes never suppress each other. Returns at
 * most `maxDetections`, best first.
 */
export function nonMaxSuppression(candidates: readonly Candidate[], iouThreshold: number, maxDetections: number): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const keptByClass = new Map<number, Candidate[]>();
  const kept: Candidate[] = [];
  for (const candidate of sorted) {
    if (kept.length >= maxDetections) break;
    const sameClass = keptByClass.get(candidate.classId) ?? [];
    if (sameClass.some((other) => iou(other, candidate) > iouThreshold)) continue;
    sameClass.push(candidate);
    keptByClass.set(candidate.classId, sameClass);
    kept.push(candidate);
  }
  return kept;
}

/**
 * Reads candidates from a YOLO-seg detection output laid out [4 + classes + coefficients, anchors]
 * (row-major): for each anchor, its best class, kept when that class scores at least `minScore`.
 */
export function findCandidates(output: Float32Array, anchors: number, classCount: number, minScore: number): Candidate[] {
  const bestScore = new Float32Array(anchors);
  const bestClass = new Uint16Array(anchors);
  // Class rows are contiguous in memory, so scan row by row rather than anchor by anchor.
  for (let c = 0; c < classCount; c++) {
    const row = (4 + c) * anchors;
    for (let i = 0; i < anchors; i++) {
      const score = output[row + i]!;
      if (score > bestScore[i]!) {
        bestScore[i] = score;
        bestClass[i] = c;
      }
    }
  }
  const candidates: Candidate[] = [];
  for (let i = 0; i < anchors; i++) {
    const score = bestScore[i]!;
    if (score < minScore || score <= 0) continue;
    const cx = output[i]!;
    const cy = output[anchors + i]!;
    const w = output[2 * anchors + i]!;
    const h = output[3 * anchors + i]!;
    candidates.push({ anchor: i, classId: bestClass[i]!, score, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 });
  }
  return candidates;
}
