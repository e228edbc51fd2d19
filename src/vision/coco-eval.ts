/**
 * COCO detection metrics exactly as pycocotools defines them (cocoeval.py: evaluateImg, accumulate,
 * summarize), for boxes and masks alike. Pure: the caller measures the overlaps, this module matches
 * and averages.
 *
 * Glossary:
 * - Truth: one annotated object. A crowd truth marks a region of many objects: detections that
 *   fall on it are neither right nor wrong, and it is never missed.
 * - Group: one image's truths and detections of one category, with the IoU of every pair.
 * - Area range: truths whose (annotated) area lies outside it are ignored like crowds, and so are
 *   unmatched detections outside it.
 * - AP: precision averaged over 101 recall points, 10 IoU thresholds and every category that has a
 *   truth to find.
 */

/** numpy's linspace(start, stop, count), value for value, so thresholds equal pycocotools' bit for bit. */
function linspace(start: number, stop: number, count: number): number[] {
  const step = (stop - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? stop : i * step + start));
}

/** IoU thresholds .50:.05:.95 (index 0 is AP50, index 5 is AP75). */
export const IOU_THRESHOLDS: readonly number[] = Object.freeze(linspace(0.5, 0.95, 10));

/** Recall points 0:.01:1 at which precision is read (101-point interpolation). */
export const RECALL_POINTS: readonly number[] = Object.freeze(linspace(0, 1, 101));

/** pycocotools' object size ranges, in pixels of area: all, small (< 32²), medium, large (> 96²). */
export const AREA_RANGES = Object.freeze({
  all: [0, 1e10],
  small: [0, 32 ** 2],
  medium: [32 ** 2, 96 ** 2],
  large: [96 ** 2, 1e10],
} as const);

/** A name of AREA_RANGES. */
export type AreaRangeName = keyof typeof AREA_RANGES;

/** The most detections per image and category that count (pycocotools' maxDets[-1]). */
export const MAX_DETECTIONS = 100;

/** What matching needs to know of a truth. */
export interface EvalTruth {
  /** The annotation's `area` (it decides the area range, not the IoU). */
  area: number;
  /** iscrowd=1: a region to ignore, matched by any number of detections. */
  crowd: boolean;
}

/** What matching needs to know of a detection. */
export interface EvalDetection {
  score: number;
  /** Box area (box AP) or mask pixels (mask AP). */
  area: number;
}

/** One image's truths and detections of one category. */
export interface EvalGroup {
  imageId: number;
  categoryId: number;
  truths: readonly EvalTruth[];
  detections: readonly EvalDetection[];
  /** IoU of detection d with truth t at `ious[d][t]`, in the order of the arrays above; for a crowd truth, intersection / detection area. */
  ious: readonly (readonly number[])[];
}

/** COCO's headline figures in 0..1; null where no category has a truth in that range. */
export interface ApSummary {
  /** AP over IoU .50:.95. */
  ap: number | null;
  ap50: number | null;
  ap75: number | null;
  apSmall: number | null;
  apMedium: number | null;
  apLarge: number | null;
}

/** AP of one category (all areas), in 0..1. */
export interface CategoryAp {
  categoryId: number;
  ap: number;
  ap50: number;
  ap75: number;
}

/** Result of evaluateGroups. */
export interface CocoEvaluation {
  summary: ApSummary;
  /** Categories with at least one non-crowd truth, in ascending id. */
  categories: CategoryAp[];
}

/** One detection after matching, at each IoU threshold. */
interface MatchedDetection {
  score: number;
  matched: boolean[];
  ignored: boolean[];
}

function scoreOrder(detections: readonly EvalDetection[]): number[] {
  // Array.prototype.sort is stable, like the mergesort pycocotools asks numpy for.
  return detections.map((_, i) => i).sort((a, b) => detections[b]!.score - detections[a]!.score);
}

/**
 * pycocotools' evaluateImg for one group and area range: at each threshold, detections (best score
 * first) take the unmatched truth they overlap most, preferring real truths to ignored ones.
 * Returns the detections kept (at most maxDetections) and how many truths count.
 */
function matchGroup(group: EvalGroup, range: readonly [number, number], maxDetections: number): { detections: MatchedDetection[]; truthsCounted: number } {
  const outside = (area: number) => area < range[0] || area > range[1];
  const truthIgnored = group.truths.map((t) => t.crowd || outside(t.area));
  // Counted truths first, so a detection settles for an ignored one only when no counted one fits.
  const truthOrder = group.truths.map((_, i) => i).sort((a, b) => Number(truthIgnored[a]) - Number(truthIgnored[b]));
  const kept = scoreOrder(group.detections).slice(0, maxDetections);
  const detections: MatchedDetection[] = kept.map((d) => ({ score: group.detections[d]!.score, matched: [], ignored: [] }));
  for (const threshold of IOU_THRESHOLDS) {
    const taken = new Array<boolean>(group.truths.length).fill(false);
    kept.forEach((d, k) => {
      let best = Math.min(threshold, 1 - 1e-10);
      let match = -1;
      for (const t of truthOrder) {
        if (taken[t] && !group.truths[t]!.crowd) continue;
        if (match > -1 && !truthIgnored[match] && truthIgnored[t]) break;
        const iou = group.ious[d]![t]!;
        if (iou < best) continue;
        best = iou;
        match = t;
      }
      const result = detections[k]!;
      if (match === -1) {
        result.matched.push(false);
        result.ignored.push(outside(group.detections[d]!.area));
      } else {
        taken[match] = true;
        result.matched.push(true);
        result.ignored.push(truthIgnored[match]!);
      }
    });
  }
  return { detections, truthsCounted: truthIgnored.filter((ignored) => !ignored).length };
}

/**
 * pycocotools' accumulate for one category and area range: precision at each recall point, per IoU
 * threshold, from the detections of every image ranked by score. Undefined when no truth counts.
 */
function precisionCurves(matched: MatchedDetection[], truthsCounted: number): number[][] | undefined {
  if (truthsCounted === 0) return undefined;
  const ranked = [...matched].sort((a, b) => b.score - a.score);
  return IOU_THRESHOLDS.map((_, t) => {
    const recall: number[] = [];
    const precision: number[] = [];
    let tp = 0;
    let fp = 0;
    for (const detection of ranked) {
      if (!detection.ignored[t]) {
        if (detection.matched[t]) tp++;
        else fp++;
      }
      recall.push(tp / truthsCounted);
      // pycocotools divides by tp + fp + 2^-52 to dodge 0/0, which puts a perfect score at
      // 0.9999999999999998; the guard gives the same figures, and exactly 1.
      precision.push(tp + fp === 0 ? 0 : tp / (tp + fp));
    }
    // Interpolate: precision at a recall is the best precision at that recall or beyond.
    for (let i = precision.length - 1; i > 0; i--) precision[i - 1] = Math.max(precision[i - 1]!, precision[i]!);
    const curve = new Array<number>(RECALL_POINTS.length).fill(0);
    let i = 0;
    for (let r = 0; r < RECALL_POINTS.length; r++) {
      while (i < recall.length && recall[i]! < RECALL_POINTS[r]!) i++;
      // Recall points never reached keep precision 0.
      if (i === recall.length) break;
      curve[r] = precision[i]!;
    }
    return curve;
  });
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Mean over categories (those with a curve) of the mean precision at the chosen thresholds. */
function averagePrecision(curves: readonly (number[][] | undefined)[], thresholds: readonly number[]): number | null {
  const present = curves.filter((c): c is number[][] => c !== undefined);
  if (present.length === 0) return null;
  return mean(present.map((c) => mean(thresholds.map((t) => mean(c[t]!)))));
}

const ALL_THRESHOLDS = IOU_THRESHOLDS.map((_, t) => t);
const AP50 = [0];
const AP75 = [5];

/**
 * Box or mask AP of `groups` as pycocotools reports it (stats[0..5]) plus AP per category. Each
 * group is one image and category; detections beyond `maxDetections` per group (best first) are
 * dropped, as pycocotools does.
 */
export function evaluateGroups(groups: readonly EvalGroup[], maxDetections = MAX_DETECTIONS): CocoEvaluation {
  const byCategory = new Map<number, EvalGroup[]>();
  // Images in ascending id, as pycocotools concatenates them: equal scores then rank alike.
  for (const group of [...groups].sort((a, b) => a.imageId - b.imageId)) {
    const list = byCategory.get(group.categoryId) ?? [];
    list.push(group);
    byCategory.set(group.categoryId, list);
  }
  const rangeNames = Object.keys(AREA_RANGES) as AreaRangeName[];
  const curves = new Map<AreaRangeName, (number[][] | undefined)[]>(rangeNames.map((name) => [name, []]));
  const categories: CategoryAp[] = [];
  for (const categoryId of [...byCategory.keys()].sort((a, b) => a - b)) {
    for (const name of rangeNames) {
      const matched: MatchedDetection[] = [];
      let truthsCounted = 0;
      for (const group of byCategory.get(categoryId)!) {
        const result = matchGroup(group, AREA_RANGES[name], maxDetections);
        matched.push(...result.detections);
        truthsCounted += result.truthsCounted;
      }
      const curve = precisionCurves(matched, truthsCounted);
      curves.get(name)!.push(curve);
      if (name === 'all' && curve) {
        categories.push({
          categoryId,
          ap: averagePrecision([curve], ALL_THRESHOLDS)!,
          ap50: averagePrecision([curve], AP50)!,
          ap75: averagePrecision([curve], AP75)!,
        });
      }
    }
  }
  const all = curves.get('all')!;
  return {
    summary: {
      ap: averagePrecision(all, ALL_THRESHOLDS),
      ap50: averagePrecision(all, AP50),
      ap75: averagePrecision(all, AP75),
      apSmall: averagePrecision(curves.get('small')!, ALL_THRESHOLDS),
      apMedium: averagePrecision(curves.get('medium')!, ALL_THRESHOLDS),
      apLarge: averagePrecision(curves.get('large')!, ALL_THRESHOLDS),
    },
    categories,
  };
}
