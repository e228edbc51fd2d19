/**
 * Merging the detections of several views of one image (mirrored, other models, tiles) into one
 * list, as accurate segmentation does. Pure.
 *
 * Glossary:
 * - View: one model run over the image (or a part of it); its detections are already in
 *   original-image pixels.
 * - Cluster: same-class detections of different views that overlap enough to be one object.
 * - Weighted box fusion (WBF, Solovyev et al., 2021): a cluster's box is the score-weighted mean
 *   of its boxes, and its score the mean over every view of that view's best score in the
 *   cluster (0 for a view that missed the object), so agreement between views raises a score and
 *   a lone detection is discounted. Its mask is the score-weighted mean of its members' mask
 *   probabilities (or a vote of their binary masks), thresholded at `maskVote`.
 * - NMS merge: the best detection of a cluster is kept as it is; the others are dropped.
 */
import type { Box, BoxMask, DetectedSegment } from './types.js';

/** The detections of one view, and how much the view counts in a fused score. */
export interface ViewDetections {
  segments: readonly DetectedSegment[];
  /** Weight of the view (default 1). */
  weight?: number;
}

/** How detections of different views are merged. */
export interface MergeOptions {
  /** `wbf`: weighted box and mask fusion; `nms`: keep the best of each cluster. */
  method: 'wbf' | 'nms';
  /** Same-class detections whose boxes overlap by more than this IoU are one object. */
  iouThreshold: number;
  /** Fused masks keep a pixel where the members' score-weighted mean probability (or share of votes) passes this. */
  maskVote: number;
}

/** Default merge: WBF at IoU 0.55 (the WBF paper's), masks by weighted majority. */
export const MERGE_DEFAULTS: MergeOptions = Object.freeze({ method: 'wbf', iouThreshold: 0.55, maskVote: 0.5 });

/** IoU of two boxes; 0 when either is empty. */
export function boxIoU(a: Box, b: Box): number {
  const iw = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const ih = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

interface Member {
  segment: DetectedSegment;
  view: number;
  weight: number;
}

interface Cluster {
  classId: number;
  members: Member[];
  /** Weighted mean corners so far. */
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  box: Box;
  weightSum: number;
}

function toBox(x1: number, y1: number, x2: number, y2: number): Box {
  const x = Math.round(x1);
  const y = Math.round(y1);
  return { x, y, width: Math.max(1, Math.round(x2) - x), height: Math.max(1, Math.round(y2) - y) };
}

/** Adds a member to a cluster, moving its fused box towards the member's by the member's weight. */
function join(cluster: Cluster, member: Member): void {
  const { box } = member.segment.mask;
  const w = member.segment.score * member.weight;
  const total = cluster.weightSum + w;
  const blend = (old: number, value: number) => (old * cluster.weightSum + value * w) / total;
  cluster.x1 = blend(cluster.x1, box.x);
  cluster.y1 = blend(cluster.y1, box.y);
  cluster.x2 = blend(cluster.x2, box.x + box.width);
  cluster.y2 = blend(cluster.y2, box.y + box.height);
  cluster.weightSum = total;
  cluster.box = toBox(cluster.x1, cluster.y1, cluster.x2, cluster.y2);
  cluster.members.push(member);
}

/** Groups same-class detections of all views into clusters, best score first. */
function clusterDetections(views: readonly ViewDetections[], iouThreshold: number): Cluster[] {
  const members: Member[] = views.flatMap((view, index) =>
    view.segments.map((segment) => ({ segment, view: index, weight: view.weight ?? 1 })),
  );
  members.sort((a, b) => b.segment.score * b.weight - a.segment.score * a.weight);
  const clusters: Cluster[] = [];
  const byClass = new Map<number, Cluster[]>();
  for (const member of members) {
    const candidates = byClass.get(member.segment.classId) ?? [];
    let best: Cluster | undefined;
    let bestIoU = iouThreshold;
    for (const cluster of candidates) {
      const overlap = boxIoU(cluster.box, member.segment.mask.box);
      if (overlap > bestIoU) {
        bestIoU = overlap;
        best = cluster;
      }
    }
    if (best) {
      join(best, member);
      continue;
    }
    const cluster: Cluster = { classId: member.segment.classId, members: [], x1: 0, y1: 0, x2: 0, y2: 0, box: member.segment.mask.box, weightSum: 0 };
    join(cluster, member);
    candidates.push(cluster);
    byClass.set(cluster.classId, candidates);
    clusters.push(cluster);
  }
  return clusters;
}

/**
 * The members' masks fused inside `box`, each weighted by score × view weight. When every member
 * kept its probabilities, a pixel is set where their weighted mean exceeds `vote` (soft fusion,
 * as a model thresholds one mask); otherwise where the weighted share of binary masks covering it
 * reaches `vote`.
 */
function voteMask(members: readonly Member[], box: Box, vote: number): { mask: BoxMask; area: number } {
  const soft = members.every((m) => m.segment.probability);
  const votes = new Float32Array(box.width * box.height);
  let total = 0;
  for (const { segment, weight } of members) {
    const w = segment.score * weight;
    total += w;
    const m = segment.mask;
    const source = soft ? segment.probability! : m.data;
    const scale = w / 255;
    const x0 = Math.max(box.x, m.box.x);
    const x1 = Math.min(box.x + box.width, m.box.x + m.box.width);
    const y0 = Math.max(box.y, m.box.y);
    const y1 = Math.min(box.y + box.height, m.box.y + m.box.height);
    for (let y = y0; y < y1; y++) {
      const src = (y - m.box.y) * m.box.width - m.box.x;
      const dst = (y - box.y) * box.width - box.x;
      for (let x = x0; x < x1; x++) votes[dst + x]! += source[src + x]! * scale;
    }
  }
  const data = new Uint8Array(votes.length);
  let area = 0;
  for (let i = 0; i < votes.length; i++) {
    const share = votes[i]! / total;
    if (soft ? share > vote : share > 0 && share >= vote * (1 - 1e-6)) {
      data[i] = 255;
      area++;
    }
  }
  return { mask: { box: { ...box }, data }, area };
}

/** One fused detection from a cluster: WBF's box, score and voted mask. */
function fuse(cluster: Cluster, viewWeights: readonly number[], totalWeight: number, vote: number): DetectedSegment | undefined {
  const bestOfView = new Map<number, number>();
  for (const m of cluster.members) bestOfView.set(m.view, Math.max(bestOfView.get(m.view) ?? 0, m.segment.score));
  let score = 0;
  for (const [view, best] of bestOfView) score += best * viewWeights[view]!;
  score /= totalWeight;
  // A lone member's fused box and mask are its own: no need to vote.
  const { mask, area } = cluster.members.length === 1 ? cluster.members[0]!.segment : voteMask(cluster.members, cluster.box, vote);
  if (area === 0) return undefined;
  const top = cluster.members[0]!.segment;
  return { classId: top.classId, label: top.label, score, area, mask };
}

/**
 * Merges the detections of several views of one image into one list, best first (at most
 * `maxDetections`, none below `minScore`). Every view's detections must be in the same image's
 * pixels.
 */
export function mergeViews(
  views: readonly ViewDetections[],
  options: MergeOptions & { minScore: number; maxDetections: number },
): DetectedSegment[] {
  const clusters = clusterDetections(views, options.iouThreshold);
  const weights = views.map((view) => view.weight ?? 1);
  const totalWeight = weights.reduce((sum, w) => sum + w, 0);
  const merged: DetectedSegment[] = [];
  for (const cluster of clusters) {
    const segment = options.method === 'nms' ? cluster.members[0]!.segment : fuse(cluster, weights, totalWeight, options.maskVote);
    if (segment && segment.score >= options.minScore) merged.push(segment);
  }
  merged.sort((a, b) => b.score - a.score);
  return merged.slice(0, options.maxDetections);
}
