import type { RgbRaster } from '../../src/vision/cutout-pixels.js';
import { guidedCoefficients } from '../../src/vision/guided-filter.js';
import { planRefinement, refineMask } from '../../src/vision/refine.js';
import type { Box, BoxMask } from '../../src/vision/types.js';

/** A `size`×`size` photo: dark grey where `inside(x, y)`, light grey elsewhere, with a little texture. */
function photo(size: number, inside: (x: number, y: number) => boolean): RgbRaster {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const base = inside(x, y) ? 60 : 190;
      const texture = ((x * 7 + y * 13) % 5) - 2;
      data.set([base + texture, base + 10 + texture, base - 10 + texture], (y * size + x) * 3);
    }
  }
  return { data, width: size, height: size, left: 0, top: 0 };
}

/** A BoxMask over `box`, set where `inside(x, y)` (photo coordinates). */
function maskOf(box: Box, inside: (x: number, y: number) => boolean): BoxMask {
  const data = new Uint8Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) for (let x = 0; x < box.width; x++) if (inside(box.x + x, box.y + y)) data[y * box.width + x] = 255;
  return { box, data };
}

/** Columns of row `y` (photo coordinates) that are set in `mask`. */
function setColumns(mask: BoxMask, y: number): number[] {
  const columns: number[] = [];
  for (let x = 0; x < mask.box.width; x++) if (mask.data[(y - mask.box.y) * mask.box.width + x]) columns.push(mask.box.x + x);
  return columns;
}

describe('guidedCoefficients', () => {
  it('explains an input that is a linear function of the guide exactly, and a flat one by its mean', () => {
    const w = 12;
    const h = 9;
    const r = Float32Array.from({ length: w * h }, (_, i) => ((i * 37) % 11) / 10);
    const g = Float32Array.from({ length: w * h }, (_, i) => ((i * 17) % 7) / 6);
    const b = Float32Array.from({ length: w * h }, (_, i) => ((i * 5) % 13) / 12);
    const p = Float32Array.from(r, (value, i) => 0.5 * value - 0.25 * g[i]! + 0.1);
    const [ar, ag, ab, bb] = guidedCoefficients({ w, h, r, g, b, p }, 2, 1e-6);
    for (let i = 0; i < w * h; i++) expect(ar[i]! * r[i]! + ag[i]! * g[i]! + ab[i]! * b[i]! + bb[i]!).toBeCloseTo(p[i]!, 3);
    const flat = guidedCoefficients({ w, h, r, g, b, p: new Float32Array(w * h).fill(1) }, 2, 1e-3);
    for (let i = 0; i < w * h; i++) {
      expect([flat[0][i], flat[1][i], flat[2][i]].map((a) => Math.abs(a!))).toEqual([expect.closeTo(0, 5), expect.closeTo(0, 5), expect.closeTo(0, 5)]);
      expect(flat[3][i]).toBeCloseTo(1, 5);
    }
  });
});

describe('planRefinement', () => {
  it('sizes the window to a prototype cell (long side / 160) and grows the box by half a cell, within the photo', () => {
    const plan = planRefinement({ x: 100, y: 50, width: 200, height: 100 }, 640, 480);
    expect(plan.radius).toBe(4);
    expect(plan.region).toEqual({ x: 98, y: 48, width: 204, height: 104 });
    expect(plan.read).toEqual({ x: 94, y: 44, width: 212, height: 112 });
    const large = planRefinement({ x: 0, y: 0, width: 4000, height: 3000 }, 4000, 3000);
    expect(large.radius).toBe(25);
    expect(large.step).toBeGreaterThan(1);
    expect(large.region).toEqual({ x: 0, y: 0, width: 4000, height: 3000 });
  });

  it('refuses a box outside the photo and bad options, saying what was given', () => {
    expect(() => planRefinement({ x: 600, y: 0, width: 100, height: 10 }, 640, 480)).toThrow(/box 600,0 100x10 does not lie inside the 640x480 photo/);
    expect(() => planRefinement({ x: 0, y: 0, width: 0, height: 10 }, 640, 480)).toThrow(RangeError);
    expect(() => planRefinement({ x: 0, y: 0, width: 10, height: 10 }, 640, 480, { epsilon: 0 })).toThrow(/epsilon must be > 0/);
  });
});

describe('refineMask', () => {
  // 320 px: a cell is 2 px, the window radius 2 px, the growth 1 px.
  const size = 320;
  const object = (x: number) => x >= 100 && x < 200;
  const picture = photo(size, (x, y) => object(x) && y >= 60 && y < 260);

  it("moves a mask's edge that is off by less than the window onto the photo's edge", () => {
    // The model's mask is a pixel too wide on the left and a pixel short on the right.
    const box = { x: 99, y: 60, width: 100, height: 200 };
    const refined = refineMask(maskOf(box, () => true), picture, planRefinement(box, size, size));
    for (const y of [80, 160, 240]) expect(setColumns(refined.mask, y)).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));
    expect(refined.area).toBe(refined.mask.data.filter((v) => v === 255).length);
  });

  it('may grow the mask past its box, by half a cell at most', () => {
    // A box a pixel short of the object's right edge: the mask reaches that edge, 1 px (half a cell) out.
    const box = { x: 100, y: 60, width: 99, height: 200 };
    const refined = refineMask(maskOf(box, () => true), picture, planRefinement(box, size, size));
    expect(refined.mask.box).toEqual({ x: 99, y: 59, width: 101, height: 202 });
    expect(setColumns(refined.mask, 160).at(-1)).toBe(199);
  });

  it('leaves an edge where the photo has none', () => {
    const flat = photo(size, () => false);
    const box = { x: 100, y: 100, width: 60, height: 60 };
    const mask = maskOf(box, (x) => x < 130);
    const refined = refineMask(mask, flat, planRefinement(box, size, size));
    expect(setColumns(refined.mask, 130)).toEqual(Array.from({ length: 30 }, (_, i) => 100 + i));
  });

  it("gives an alpha whose middle is the binary mask's edge", () => {
    const box = { x: 98, y: 60, width: 104, height: 200 };
    const refined = refineMask(maskOf(box, () => true), picture, planRefinement(box, size, size));
    const { alpha, mask } = refined;
    expect(alpha.box).toEqual(mask.box);
    for (let i = 0; i < alpha.data.length; i++) expect(alpha.data[i]! > 127.5).toBe(mask.data[i] === 255);
  });

  it('keeps the model mask when refinement would leave nothing', () => {
    // A 2-px sliver on a flat photo: the window's average is below one half everywhere.
    const flat = photo(size, () => false);
    const box = { x: 150, y: 150, width: 2, height: 2 };
    const refined = refineMask(maskOf(box, () => true), flat, planRefinement(box, size, size));
    expect(refined.area).toBe(4);
    expect(setColumns(refined.mask, 150)).toEqual([150, 151]);
  });

  it('refuses pixels that do not cover what the filter reads', () => {
    const box = { x: 100, y: 100, width: 50, height: 50 };
    const crop: RgbRaster = { data: new Uint8Array(50 * 50 * 3), width: 50, height: 50, left: 100, top: 100 };
    expect(() => refineMask(maskOf(box, () => true), crop, planRefinement(box, size, size))).toThrow(/do not cover the region the filter reads/);
    const short: RgbRaster = { ...picture, data: picture.data.subarray(0, 100) };
    expect(() => refineMask(maskOf(box, () => true), short, planRefinement(box, size, size))).toThrow(/need 307200 bytes, got 100/);
  });
});
