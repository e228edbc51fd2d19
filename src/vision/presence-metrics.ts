/**
 * Image-level precision and recall of "this image contains class X" at a score floor: what a search
 * for X with `minScore` returns, judged against the annotations. Pure.
 */

/** Score floors evaluated by default: the range a search's `minScore` sensibly takes. */
export const SEARCH_SCORE_FLOORS: readonly number[] = Object.freeze([0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]);

/** One image: the classes annotated in it and what the model found. */
export interface ImageClasses {
  /** Categories with at least one annotation (crowd regions included: the class is there). */
  present: ReadonlySet<number>;
  /** Every detection, by category. */
  detections: readonly { categoryId: number; score: number }[];
}

/** Image-level counts and rates at one floor, summed over every image and category. */
export interface PresenceAtFloor {
  floor: number;
  /** Image–class pairs found and really present. */
  found: number;
  /** Image–class pairs with a detection at or above the floor (what search returns). */
  returned: number;
  /** Image–class pairs annotated (what search should return). */
  present: number;
  /** found / returned; null when nothing is returned. */
  precision: number | null;
  /** found / present; null when nothing is annotated. */
  recall: number | null;
  /** Harmonic mean of precision and recall; null when either is. */
  f1: number | null;
}

/** Precision and recall of image-level class presence at each floor (micro-averaged). */
export function presenceAtFloors(images: readonly ImageClasses[], floors: readonly number[] = SEARCH_SCORE_FLOORS): PresenceAtFloor[] {
  // A search matches an image when its best detection of the class reaches the floor.
  const best = images.map((image) => {
    const top = new Map<number, number>();
    for (const d of image.detections) top.set(d.categoryId, Math.max(top.get(d.categoryId) ?? 0, d.score));
    return top;
  });
  const present = images.reduce((sum, image) => sum + image.present.size, 0);
  return floors.map((floor) => {
    let found = 0;
    let returned = 0;
    images.forEach((image, i) => {
      for (const [categoryId, score] of best[i]!) {
        if (score < floor) continue;
        returned++;
        if (image.present.has(categoryId)) found++;
      }
    });
    const precision = returned === 0 ? null : found / returned;
    const recall = present === 0 ? null : found / present;
    const f1 = precision === null || recall === null ? null : precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { floor, found, returned, present, precision, recall, f1 };
  });
}
