import { cutoutPixels, type RgbRaster } from '../../src/vision/cutout-pixels.js';
import type { BoxMask } from '../../src/vision/types.js';

/** A 4x3 picture whose pixel (x, y) is [10x + y, 100 + 10x + y, 200 + y]. */
function picture(): RgbRaster {
  const data = new Uint8Array(4 * 3 * 3);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) data.set([10 * x + y, 100 + 10 * x + y, 200 + y], (y * 4 + x) * 3);
  return { data, width: 4, height: 3, left: 0, top: 0 };
}

/** A 2x2 mask at (1, 1): only its top-left and bottom-right pixels set. */
const DIAGONAL: BoxMask = { box: { x: 1, y: 1, width: 2, height: 2 }, data: Uint8Array.from([255, 0, 0, 255]) };

describe('cutoutPixels', () => {
  it('transparent: RGBA, the mask as alpha, and nothing at all (colour included) outside it', () => {
    expect(Array.from(cutoutPixels(picture(), DIAGONAL, 'transparent'))).toEqual([
      11, 111, 201, 255, 0, 0, 0, 0,
      0, 0, 0, 0, 22, 122, 202, 255,
    ]);
  });

  it('white: RGB, white outside the mask', () => {
    expect(Array.from(cutoutPixels(picture(), DIAGONAL, 'white'))).toEqual([
      11, 111, 201, 255, 255, 255,
      255, 255, 255, 22, 122, 202,
    ]);
  });

  it('reads a crop of the picture placed where it was cut from, as it reads the whole picture', () => {
    const whole = picture();
    const crop = new Uint8Array(2 * 2 * 3);
    for (let row = 0; row < 2; row++) crop.set(whole.data.subarray(((1 + row) * 4 + 1) * 3, ((1 + row) * 4 + 3) * 3), row * 6);
    const fromCrop = cutoutPixels({ data: crop, width: 2, height: 2, left: 1, top: 1 }, DIAGONAL, 'transparent');
    expect(fromCrop).toEqual(cutoutPixels(whole, DIAGONAL, 'transparent'));
  });

  it('refuses a box the source does not cover, saying both', () => {
    const outside: BoxMask = { box: { x: 3, y: 2, width: 2, height: 1 }, data: new Uint8Array(2) };
    expect(() => cutoutPixels(picture(), outside, 'white')).toThrow(/box 3,2 2x1 is not inside the source raster 0,0 4x3/);
  });
});
