import { evaluateGroups, IOU_THRESHOLDS, RECALL_POINTS, type EvalGroup } from '../../src/vision/coco-eval.js';

/** A truth of this area (default 10 000: large), crowd or not. */
const truth = (area = 10_000, crowd = false) => ({ area, crowd });

/** One image and category: truths, and detections as [score, IoU with each truth, area?]. */
function group(imageId: number, categoryId: number, truths: { area: number; crowd: boolean }[], detections: [number, number[], number?][]): EvalGroup {
  return {
    imageId,
    categoryId,
    truths,
    detections: detections.map(([score, , area]) => ({ score, area: area ?? 10_000 })),
    ious: detections.map(([, ious]) => ious),
  };
}

describe('evaluateGroups (pycocotools AP)', () => {
  it('uses the thresholds pycocotools uses', () => {
    expect(IOU_THRESHOLDS).toHaveLength(10);
    expect(IOU_THRESHOLDS[0]).toBe(0.5);
    expect(IOU_THRESHOLDS[5]).toBe(0.75);
    expect(IOU_THRESHOLDS[9]).toBe(0.95);
    expect(RECALL_POINTS).toHaveLength(101);
    expect(RECALL_POINTS[100]).toBe(1);
  });

  it('is exactly 1 when every object is found exactly', () => {
    const result = evaluateGroups([
      group(1, 1, [truth(), truth()], [[0.9, [1, 0]], [0.3, [0, 1]]]),
      group(2, 1, [truth()], [[0.6, [1]]]),
      group(2, 2, [truth(500)], [[0.8, [1], 500]]),
    ]);
    expect(result.summary).toEqual({ ap: 1, ap50: 1, ap75: 1, apSmall: 1, apMedium: null, apLarge: 1 });
    expect(result.categories).toEqual([
      { categoryId: 1, ap: 1, ap50: 1, ap75: 1 },
      { categoryId: 2, ap: 1, ap50: 1, ap75: 1 },
    ]);
  });

  it('is 0 when the right place is given the wrong class', () => {
    // The detection sits on the cat, but says dog: no cat is found and dogs have nothing to find.
    const result = evaluateGroups([group(1, 17, [truth()], []), group(1, 18, [], [[0.9, []]])]);
    expect(result.summary.ap).toBe(0);
    expect(result.categories).toEqual([{ categoryId: 17, ap: 0, ap50: 0, ap75: 0 }]);
  });

  it('averages interpolated precision over 101 recall points', () => {
    // Ranked: hit, miss, hit over two objects. Recall 0..0.5 (51 points) at precision 1, recall
    // 0.51..1 (50 points) at 2/3.
    const result = evaluateGroups([group(1, 1, [truth(), truth()], [[0.9, [1, 0]], [0.8, [0, 0]], [0.7, [0, 1]]])]);
    expect(result.summary.ap).toBeCloseTo((51 + 50 * (2 / 3)) / 101, 12);
  });

  it('counts a match only at the IoU thresholds it reaches', () => {
    // IoU 0.72 is a hit at .50 .55 .60 .65 .70 and a miss at .75 and above.
    const result = evaluateGroups([group(1, 1, [truth()], [[0.9, [0.72]]])]);
    expect(result.summary.ap).toBe(0.5);
    expect(result.summary.ap50).toBe(1);
    expect(result.summary.ap75).toBe(0);
  });

  it('lets a detection take the truth it overlaps most, and counts a second one on it as a false positive', () => {
    // At IoU .5: the first detection takes truth B (0.8 over 0.6); the second only overlaps B, which
    // is taken. Hit then miss, recall 0.5: precision 1 at 51 recall points of 101.
    const result = evaluateGroups([group(1, 1, [truth(), truth()], [[0.9, [0.6, 0.8]], [0.8, [0, 0.7]]])]);
    expect(result.summary.ap50).toBeCloseTo(51 / 101, 12);
  });

  it('ignores detections on crowd regions, any number of them, and never counts a crowd as missed', () => {
    const person = truth();
    const crowd = truth(50_000, true);
    const withCrowd = evaluateGroups([group(1, 1, [person, crowd], [[0.95, [0, 1]], [0.94, [0, 1]], [0.9, [1, 0]]])]);
    expect(withCrowd.summary.ap).toBe(1);
    // Without the crowd region the same two detections are false positives ranked first.
    const withoutCrowd = evaluateGroups([group(1, 1, [person], [[0.95, [0]], [0.94, [0]], [0.9, [1]]])]);
    expect(withoutCrowd.summary.ap).toBeCloseTo(1 / 3, 12);
    // A class present only as a crowd has nothing to find: it is left out of the mean.
    expect(evaluateGroups([group(1, 1, [crowd], [])]).summary.ap).toBeNull();
  });

  it('keeps at most 100 detections per image and class, best first', () => {
    const falsePositives = (n: number) => Array.from({ length: n }, (): [number, number[]] => [0.9, [0]]);
    // The hit is the 100th: recall 1 at precision 1/100, at every recall point.
    const hundredth = evaluateGroups([group(1, 1, [truth()], [...falsePositives(99), [0.5, [1]]])]);
    expect(hundredth.summary.ap).toBeCloseTo(1 / 100, 12);
    // The hit is the 101st: dropped.
    const dropped = evaluateGroups([group(1, 1, [truth()], [...falsePositives(100), [0.5, [1]]])]);
    expect(dropped.summary.ap).toBe(0);
    // The cap is per image: the same detections spread over two images all count.
    const spread = evaluateGroups([group(1, 1, [], falsePositives(99)), group(2, 1, [truth()], [[0.5, [1]]])]);
    expect(spread.summary.ap).toBeCloseTo(1 / 100, 12);
  });

  it('ranks detections of every image together by score', () => {
    // Image 2's miss (0.8) ranks between image 1's hit (0.9) and image 2's hit (0.7).
    const result = evaluateGroups([
      group(2, 1, [truth()], [[0.8, [0]], [0.7, [1]]]),
      group(1, 1, [truth()], [[0.9, [1]]]),
    ]);
    expect(result.summary.ap).toBeCloseTo((51 + 50 * (2 / 3)) / 101, 12);
  });

  it('measures small, medium and large objects apart, ignoring what lies outside the range', () => {
    // A small object found, and a large unmatched detection ranked first: a false positive overall,
    // ignored among small objects (it is not small).
    const result = evaluateGroups([group(1, 1, [truth(400)], [[0.9, [0], 20_000], [0.8, [1], 400]])]);
    expect(result.summary.ap).toBeCloseTo(0.5, 12);
    expect(result.summary.apSmall).toBe(1);
    expect(result.summary.apMedium).toBeNull();
    expect(result.summary.apLarge).toBeNull();
  });
});
