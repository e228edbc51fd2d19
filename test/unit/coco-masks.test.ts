import { boxIou, decodeCountsString, decodeRle, maskArea, maskIou, rasterizePolygons } from '../../src/vision/coco-masks.js';
import { encodeRle } from '../../src/vision/coco-rle.js';
import type { BoxMask } from '../../src/vision/types.js';

/** Set pixels of a BoxMask as "x,y" in image coordinates. */
function pixels(mask: BoxMask): string[] {
  const set: string[] = [];
  for (let y = 0; y < mask.box.height; y++) {
    for (let x = 0; x < mask.box.width; x++) if (mask.data[y * mask.box.width + x]) set.push(`${mask.box.x + x},${mask.box.y + y}`);
  }
  return set;
}

describe('rasterizePolygons', () => {
  it('sets the pixels whose centre is inside', () => {
    const rectangle = rasterizePolygons([[10, 10, 30, 10, 30, 40, 10, 40]], 100, 100);
    expect(rectangle.box).toEqual({ x: 10, y: 10, width: 20, height: 30 });
    expect(maskArea(rectangle)).toBe(600);
    // Right triangle of legs 10: centres with x + y + 1 < 10, 45 pixels (the exact area is 50).
    const triangle = rasterizePolygons([[0, 0, 10, 0, 0, 10]], 100, 100);
    expect(maskArea(triangle)).toBe(45);
    expect(pixels(triangle)).toContain('8,0');
    expect(pixels(triangle)).not.toContain('9,0');
  });

  it('joins the polygons of one object and clips them to the image', () => {
    const overlapping = rasterizePolygons([[0, 0, 4, 0, 4, 4, 0, 4], [2, 2, 6, 2, 6, 6, 2, 6]], 100, 100);
    expect(maskArea(overlapping)).toBe(16 + 16 - 4);
    const outside = rasterizePolygons([[-5, -5, 5, -5, 5, 5, -5, 5]], 3, 4);
    expect(outside.box).toEqual({ x: 0, y: 0, width: 3, height: 4 });
    expect(maskArea(outside)).toBe(12);
    expect(maskArea(rasterizePolygons([], 10, 10))).toBe(0);
  });
});

describe('COCO RLE', () => {
  it('reads compressed counts: 5-bit groups, signs, and differences from the count two before', () => {
    expect(decodeCountsString('234')).toEqual([2, 3, 4]);
    expect(decodeCountsString('T3')).toEqual([100]);
    expect(decodeCountsString('d0')).toEqual([20]);
    // The fourth count is stored as 2 - 20 = -18.
    expect(decodeCountsString('3d0T3^O')).toEqual([3, 20, 100, 2]);
  });

  it('decodes column-major runs into a mask around the object', () => {
    // 3 rows x 4 columns; pixels 4, 5, 6 in column-major order: (1,1), (1,2), (2,0).
    const mask = decodeRle({ size: [3, 4], counts: [4, 3, 5] });
    expect(mask.box).toEqual({ x: 1, y: 0, width: 2, height: 3 });
    expect(pixels(mask).sort()).toEqual(['1,1', '1,2', '2,0']);
    // 0s: 3, 1s: 20 (columns 0-4 of 5 rows), 0s: 100, 1s: 2 (the foot of column 24).
    const compressed = decodeRle({ size: [5, 25], counts: '3d0T3^O' });
    expect(compressed.box).toEqual({ x: 0, y: 0, width: 25, height: 5 });
    expect(maskArea(compressed)).toBe(22);
    expect(pixels(compressed)).toEqual(expect.arrayContaining(['0,3', '24,3', '24,4']));
    expect(() => decodeRle({ size: [3, 4], counts: [4, 3] })).toThrow(/add up to 7.*12 pixels/);
  });

  it('reads back what the COCO export writes, pixel for pixel', () => {
    // A ring with a dot in it, on a 40x30 frame: long runs, short runs and negative differences.
    const box = { x: 7, y: 3, width: 25, height: 20 };
    const data = new Uint8Array(box.width * box.height);
    for (let y = 0; y < box.height; y++) {
      for (let x = 0; x < box.width; x++) {
        const r = Math.hypot(x - 12, y - 10);
        if ((r > 6 && r < 10.5) || (x === 12 && y === 10)) data[y * box.width + x] = 255;
      }
    }
    const written = { box, data };
    const read = decodeRle(encodeRle(written, 40, 30));
    expect(pixels(read)).toEqual(pixels(written));
    expect(maskArea(read)).toBe(maskArea(written));
  });
});

describe('IoU as pycocotools measures it', () => {
  const square = (x: number, y: number, side: number): BoxMask => ({ box: { x, y, width: side, height: side }, data: new Uint8Array(side * side).fill(255) });

  it('is intersection over union, or over the detection alone on a crowd region', () => {
    const detection = { mask: square(10, 10, 10), area: 100 };
    const crowd = { mask: square(0, 0, 40), area: 1600 };
    expect(maskIou(detection, crowd, false)).toBeCloseTo(100 / 1600, 12);
    expect(maskIou(detection, crowd, true)).toBe(1);
    expect(maskIou(detection, { mask: square(15, 10, 10), area: 100 }, false)).toBeCloseTo(50 / 150, 12);
    expect(maskIou(detection, { mask: square(50, 50, 5), area: 25 }, false)).toBe(0);
  });

  it('measures boxes the same way, in real-valued pixels', () => {
    expect(boxIou([10, 10, 10, 10], [0, 0, 40, 40], false)).toBeCloseTo(100 / 1600, 12);
    expect(boxIou([10, 10, 10, 10], [0, 0, 40, 40], true)).toBe(1);
    expect(boxIou([0, 0, 10, 10], [5, 0, 10, 10], false)).toBeCloseTo(50 / 150, 12);
    expect(boxIou([0, 0, 10, 10], [10, 0, 10, 10], false)).toBe(0);
  });
});
