import { findCandidates, iou, nonMaxSuppression, type Candidate } from '../../src/vision/nms.js';

const box = (anchor: number, classId: number, score: number, x1: number, y1: number, x2: number, y2: number): Candidate =>
  ({ anchor, classId, score, x1, y1, x2, y2 });

describe('iou', () => {
  it('is 1 for identical boxes, 0 for disjoint ones, and exact for partial overlap', () => {
    const a = box(0, 0, 1, 0, 0, 10, 10);
    expect(iou(a, a)).toBe(1);
    expect(iou(a, box(1, 0, 1, 20, 20, 30, 30))).toBe(0);
    expect(iou(a, box(1, 0, 1, 5, 0, 15, 10))).toBeCloseTo(50 / 150, 9);
  });
});

describe('nonMaxSuppression', () => {
  const candidates = [
    box(0, 0, 0.6, 1, 1, 11, 11),
    box(1, 0, 0.9, 0, 0, 10, 10),
    box(2, 1, 0.8, 0, 0, 10, 10), // same place, other class: kept
    box(3, 0, 0.7, 50, 50, 60, 60), // same class, elsewhere: kept
    box(4, 0, 0.65, 5, 0, 15, 10), // IoU 1/3 with the best: kept at 0.5
  ];

  it('suppresses overlapping boxes of the same class only, best first', () => {
    const kept = nonMaxSuppression(candidates, 0.5, 100);
    expect(kept.map((c) => c.anchor)).toEqual([1, 2, 3, 4]);
  });

  it('honours the IoU threshold and the cap', () => {
    expect(nonMaxSuppression(candidates, 0.3, 100).map((c) => c.anchor)).toEqual([1, 2, 3]);
    expect(nonMaxSuppression(candidates, 0.5, 2).map((c) => c.anchor)).toEqual([1, 2]);
  });
});

describe('findCandidates', () => {
  it('reads boxes and best classes from a [4 + classes + coefficients, anchors] output', () => {
    const anchors = 3;
    const classes = 2;
    const rows = [
      [10, 100, 50], // cx
      [10, 100, 50], // cy
      [4, 20, 8], // w
      [6, 20, 8], // h
      [0.1, 0.95, 0.2], // class 0
      [0.8, 0.3, 0.1], // class 1
      [0, 0, 0], // one mask coefficient
    ];
    const output = Float32Array.from(rows.flat());
    const found = findCandidates(output, anchors, classes, 0.25);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatchObject({ anchor: 0, classId: 1, x1: 8, y1: 7, x2: 12, y2: 13 });
    expect(found[0]!.score).toBeCloseTo(0.8, 6);
    expect(found[1]).toMatchObject({ anchor: 1, classId: 0, x1: 90, y1: 90, x2: 110, y2: 110 });
  });
});
