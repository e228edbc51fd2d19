import { backgroundMask } from '../../src/vision/background-mask.js';
import { computeLetterbox } from '../../src/vision/letterbox.js';
import { decodeBoxMask, type Prototypes } from '../../src/vision/mask-decode.js';

/** Two 4x4 prototype planes: plane 0 is +4 on the left half, -4 on the right; plane 1 is all 1. */
function handBuiltPrototypes(): Prototypes {
  const data = new Float32Array(2 * 16);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) data[r * 4 + c] = c < 2 ? 4 : -4;
  data.fill(1, 16);
  return { data, count: 2, width: 4, height: 4 };
}

describe('decodeBoxMask', () => {
  // A 16x16 model input over an 8x8 image (scale 2, no padding), prototypes at 1/4: one cell = 2 image px.
  const lb = computeLetterbox(8, 8, 16, 16);
  const protos = handBuiltPrototypes();

  it('sets pixels where sigmoid(coefficients · prototypes) > 0.5, only inside the box', () => {
    const { mask, area } = decodeBoxMask([1, 0], protos, { x: 0, y: 0, width: 8, height: 8 }, lb);
    expect(mask.box).toEqual({ x: 0, y: 0, width: 8, height: 8 });
    expect(mask.data).toHaveLength(64);
    for (let y = 0; y < 8; y++) {
      const row = Array.from(mask.data.slice(y * 8, y * 8 + 8));
      expect(row).toEqual([255, 255, 255, 255, 0, 0, 0, 0]);
    }
    expect(area).toBe(32);
  });

  it('flips with the sign of the coefficient and is empty for a strongly negative bias', () => {
    const flipped = decodeBoxMask([-1, 0], protos, { x: 0, y: 0, width: 8, height: 8 }, lb);
    expect(Array.from(flipped.mask.data.slice(0, 8))).toEqual([0, 0, 0, 0, 255, 255, 255, 255]);
    expect(decodeBoxMask([0, -3], protos, { x: 0, y: 0, width: 8, height: 8 }, lb).area).toBe(0);
  });

  it('crops to a box that straddles the edge and keeps original-pixel coordinates', () => {
    const { mask, area } = decodeBoxMask([1, 0], protos, { x: 2, y: 3, width: 4, height: 2 }, lb);
    expect(mask.box).toEqual({ x: 2, y: 3, width: 4, height: 2 });
    expect(Array.from(mask.data)).toEqual([255, 255, 0, 0, 255, 255, 0, 0]);
    expect(area).toBe(4);
  });

  it('returns the probabilities under the mask when asked, 0..255, above 127 exactly where the mask is set', () => {
    const box = { x: 0, y: 0, width: 8, height: 8 };
    expect(decodeBoxMask([1, 0], protos, box, lb).probability).toBeUndefined();
    const { mask, probability } = decodeBoxMask([1, 0], protos, box, lb, 0.5, true);
    expect(probability).toHaveLength(64);
    expect(probability![0]).toBe(Math.round(255 / (1 + Math.exp(-4))));
    for (let i = 0; i < 64; i++) expect(probability![i]! > 127).toBe(mask.data[i] === 255);
  });

  it('upsamples to a much larger original image', () => {
    const big = computeLetterbox(800, 800, 16, 16);
    const { mask, area } = decodeBoxMask([1, 0], protos, { x: 0, y: 0, width: 800, height: 800 }, big);
    expect(area).toBe(400 * 800);
    expect(mask.data[399]).toBe(255);
    expect(mask.data[400]).toBe(0);
  });
});

describe('backgroundMask', () => {
  it('is the exact complement of the union of the masks', () => {
    const a = { box: { x: 0, y: 0, width: 2, height: 2 }, data: Uint8Array.from([255, 0, 255, 255]) };
    const b = { box: { x: 1, y: 1, width: 2, height: 1 }, data: Uint8Array.from([255, 255]) };
    const { data, area } = backgroundMask([a, b], 3, 2);
    expect(Array.from(data)).toEqual([0, 255, 255, 0, 0, 0]);
    expect(area).toBe(2);
  });
});
