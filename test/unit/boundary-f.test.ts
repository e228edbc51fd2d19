import { boundaryF } from '../../src/vision/boundary-f.js';
import type { Box, BoxMask } from '../../src/vision/types.js';

function rectangle(box: Box): BoxMask {
  return { box, data: new Uint8Array(box.width * box.height).fill(255) };
}

const EMPTY: BoxMask = { box: { x: 0, y: 0, width: 0, height: 0 }, data: new Uint8Array(0) };

describe('boundaryF', () => {
  const truth = rectangle({ x: 20, y: 20, width: 40, height: 30 });

  it('is 1 for the same mask, whatever the tolerance', () => {
    expect(boundaryF(truth, truth, 0, 100, 100)).toEqual({ precision: 1, recall: 1, f: 1 });
    expect(boundaryF(truth, truth, 3, 100, 100).f).toBe(1);
  });

  it('forgives an edge shifted by no more than the tolerance', () => {
    const shifted = rectangle({ x: 22, y: 20, width: 40, height: 30 });
    expect(boundaryF(shifted, truth, 2, 100, 100).f).toBe(1);
    const strict = boundaryF(shifted, truth, 1, 100, 100);
    // Left and right sides (30 px each of 136 boundary pixels) are 2 px away; the rest within 1.
    expect(strict.precision).toBeCloseTo((136 - 2 * 30 + 2) / 136, 1);
    expect(strict.f).toBeLessThan(1);
  });

  it('measures precision and recall separately', () => {
    // A predicted outline far from the truth's, plus the truth's own: every truth pixel is found,
    // half the predicted ones are wrong.
    const both: BoxMask = { box: { x: 0, y: 0, width: 100, height: 100 }, data: new Uint8Array(100 * 100) };
    for (const box of [truth.box, { x: 70, y: 60, width: 20, height: 25 }]) {
      for (let y = box.y; y < box.y + box.height; y++) both.data.fill(255, y * 100 + box.x, y * 100 + box.x + box.width);
    }
    const score = boundaryF(both, truth, 1, 100, 100);
    expect(score.recall).toBe(1);
    expect(score.precision).toBeCloseTo(136 / (136 + 86), 5);
  });

  it('does not count the photo frame as an edge', () => {
    // Inside a larger photo the two outlines are 1 px apart (√2 at the corners); `whole` filling a 10x10 photo has none.
    expect(boundaryF(rectangle({ x: 5, y: 5, width: 10, height: 10 }), rectangle({ x: 6, y: 6, width: 8, height: 8 }), 2, 20, 20).f).toBe(1);
    const whole = rectangle({ x: 0, y: 0, width: 10, height: 10 });
    expect(boundaryF(whole, rectangle({ x: 1, y: 1, width: 8, height: 8 }), 2, 10, 10)).toEqual({ precision: 0, recall: 0, f: 0 });
  });

  it('is 0 when one mask is empty and 1 when both are', () => {
    expect(boundaryF(EMPTY, truth, 2, 100, 100).f).toBe(0);
    expect(boundaryF(truth, EMPTY, 2, 100, 100).f).toBe(0);
    expect(boundaryF(EMPTY, EMPTY, 2, 100, 100).f).toBe(1);
    expect(() => boundaryF(truth, truth, -1, 100, 100)).toThrow(/tolerance must be ≥ 0/);
  });
});
