import { computeLetterbox, imageToInputX, imageToInputY, inputToImageX, inputToImageY, modelBoxToImageBox } from '../../src/vision/letterbox.js';

describe('computeLetterbox', () => {
  it('fits a landscape photo into 640x480 and centres the padding', () => {
    const lb = computeLetterbox(1352, 900, 640, 480);
    expect(lb.resizedWidth).toBe(640);
    expect(lb.resizedHeight).toBe(426);
    expect(lb.padLeft + lb.padRight).toBe(0);
    expect(lb.padTop).toBe(27);
    expect(lb.padBottom).toBe(27);
  });

  it('pads a portrait photo left and right in a square input', () => {
    const lb = computeLetterbox(352, 448, 640, 640);
    expect(lb.resizedHeight).toBe(640);
    expect(lb.resizedWidth).toBe(503);
    expect(lb.padLeft).toBe(68);
    expect(lb.padRight).toBe(69);
    expect(lb.padTop + lb.padBottom).toBe(0);
  });

  it('keeps a 1-pixel strip at least one pixel thick', () => {
    const lb = computeLetterbox(5000, 1, 640, 640);
    expect(lb.resizedHeight).toBe(1);
    expect(lb.padTop + lb.padBottom + lb.resizedHeight).toBe(640);
  });

  it('refuses empty sizes', () => {
    expect(() => computeLetterbox(0, 10, 640, 480)).toThrow(RangeError);
  });
});

describe('letterbox mapping', () => {
  const lb = computeLetterbox(4000, 3000, 640, 640);

  it('maps image corners onto the resized area and back', () => {
    expect(imageToInputX(lb, 0)).toBe(lb.padLeft);
    expect(imageToInputY(lb, 0)).toBe(lb.padTop);
    expect(imageToInputX(lb, 4000)).toBeCloseTo(lb.padLeft + lb.resizedWidth, 9);
    expect(imageToInputY(lb, 3000)).toBeCloseTo(lb.padTop + lb.resizedHeight, 9);
    for (const v of [0, 17.5, 1234, 2999]) {
      expect(inputToImageX(lb, imageToInputX(lb, v))).toBeCloseTo(v, 9);
      expect(inputToImageY(lb, imageToInputY(lb, v))).toBeCloseTo(v, 9);
    }
  });

  it('turns a model box into an enclosing integer box clipped to the image', () => {
    // A box covering the middle half of the resized area in input pixels.
    const x1 = lb.padLeft + lb.resizedWidth / 4;
    const y1 = lb.padTop + lb.resizedHeight / 4;
    const box = modelBoxToImageBox(lb, x1, y1, x1 + lb.resizedWidth / 2, y1 + lb.resizedHeight / 2);
    expect(box).toEqual({ x: 1000, y: 750, width: 2000, height: 1500 });
    const clipped = modelBoxToImageBox(lb, -50, -50, 100, lb.padTop + 10);
    expect(clipped?.x).toBe(0);
    expect(clipped?.y).toBe(0);
    expect(modelBoxToImageBox(lb, 0, 0, 50, lb.padTop - 5)).toBeUndefined();
  });
});
