/**
 * The pure parts of accurate segmentation: mirroring the model's input and undoing it on its
 * outputs, merging the views' detections (weighted box fusion and NMS), and tiling large photos.
 */
import { boxIoU, mergeViews, MERGE_DEFAULTS } from '../../src/vision/merge.js';
import { mirrorRgbRows, unmirrorOutputs } from '../../src/vision/mirror.js';
import { dropCutByTile, planTiles, TILE_DEFAULTS } from '../../src/vision/tiles.js';
import type { Box, DetectedSegment } from '../../src/vision/types.js';

/** A segment whose mask fills its box, or follows `fill(x, y)` in box pixels. */
function segment(classId: number, score: number, box: Box, fill: (x: number, y: number) => boolean = () => true): DetectedSegment {
  const data = new Uint8Array(box.width * box.height);
  let area = 0;
  for (let y = 0; y < box.height; y++) for (let x = 0; x < box.width; x++) if (fill(x, y)) { data[y * box.width + x] = 255; area++; }
  return { classId, label: `class${classId}`, score, area, mask: { box, data } };
}

const merge = (views: DetectedSegment[][], method: 'wbf' | 'nms' = 'wbf') =>
  mergeViews(views.map((segments) => ({ segments })), { ...MERGE_DEFAULTS, method, minScore: 0, maxDetections: 100 });

describe('mirrorRgbRows', () => {
  it('reverses the pixels of every row, keeping each pixel\'s channels in order', () => {
    // 3x2 RGB: pixels numbered 1..6, channels c, c+10, c+20.
    const rgb = Uint8Array.from([1, 11, 21, 2, 12, 22, 3, 13, 23, 4, 14, 24, 5, 15, 25, 6, 16, 26]);
    mirrorRgbRows(rgb, 3, 2);
    expect(Array.from(rgb)).toEqual([3, 13, 23, 2, 12, 22, 1, 11, 21, 6, 16, 26, 5, 15, 25, 4, 14, 24]);
  });

  it('refuses a buffer of the wrong size', () => {
    expect(() => mirrorRgbRows(new Uint8Array(5), 2, 1)).toThrow(/5 bytes is not 2x1 RGB/);
  });
});

describe('unmirrorOutputs', () => {
  it('maps box centres back across the input and mirrors each prototype row', () => {
    // Detections [1, 5, 2]: cx row, then cy, w, h and one class row.
    const detections = { data: Float32Array.from([10, 600, 5, 6, 20, 20, 30, 30, 0.9, 0.8]), dims: [1, 5, 2] };
    const prototypes = { data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), dims: [1, 2, 2, 2] };
    unmirrorOutputs(detections, prototypes, 640);
    expect(Array.from(detections.data)).toEqual([630, 40, 5, 6, 20, 20, 30, 30, expect.closeTo(0.9, 6), expect.closeTo(0.8, 6)]);
    expect(Array.from(prototypes.data)).toEqual([2, 1, 4, 3, 6, 5, 8, 7]);
  });
});

describe('mergeViews', () => {
  it('fuses one object seen by two views: weighted box, mean score, voted mask', () => {
    const a = segment(0, 0.8, { x: 10, y: 10, width: 20, height: 20 });
    const b = segment(0, 0.4, { x: 13, y: 10, width: 20, height: 20 });
    const [fused, ...rest] = merge([[a], [b]]);
    expect(rest).toEqual([]);
    expect(fused!.score).toBeCloseTo(0.6, 6);
    // Corners move a third of the way (0.4 of 1.2 of the weight) towards the weaker box.
    expect(fused!.mask.box).toEqual({ x: 11, y: 10, width: 20, height: 20 });
    // The stronger view outvotes the weaker one where they disagree.
    expect(fused!.area).toBe(19 * 20);
    expect(fused!.mask.data[0]).toBe(255);
    expect(fused!.mask.data[19]).toBe(0);
  });

  it('discounts an object only one of several views saw, and keeps classes and places apart', () => {
    const person = segment(0, 0.9, { x: 0, y: 0, width: 10, height: 10 });
    const dog = segment(1, 0.9, { x: 0, y: 0, width: 10, height: 10 });
    const far = segment(0, 0.6, { x: 50, y: 50, width: 10, height: 10 });
    const merged = merge([[person, far], [person, dog], [person]]);
    expect(merged.map((s) => [s.classId, +s.score.toFixed(3)])).toEqual([[0, 0.9], [1, 0.3], [0, 0.2]]);
  });

  it('averages the views\' probabilities when they kept them, instead of voting their thresholded masks', () => {
    const box = { x: 0, y: 0, width: 2, height: 1 };
    // Pixel 0: both views are sure. Pixel 1: one view barely says yes (0.6), the other clearly no (0.1).
    const withProbability = (segment: DetectedSegment, probability: number[]) => ({ ...segment, probability: Uint8Array.from(probability.map((p) => Math.round(p * 255))) });
    const a = withProbability(segment(0, 0.5, box), [0.9, 0.6]);
    const b = withProbability(segment(0, 0.5, box, (x) => x === 0), [0.9, 0.1]);
    expect(Array.from(merge([[a], [b]])[0]!.mask.data)).toEqual([255, 0]);
    // The same masks without probabilities: half the votes keep pixel 1.
    const [voted] = merge([[{ ...a, probability: undefined }], [{ ...b, probability: undefined }]]);
    expect(Array.from(voted!.mask.data)).toEqual([255, 255]);
  });

  it('keeps the best detection of each cluster, untouched, with nms', () => {
    const a = segment(0, 0.8, { x: 10, y: 10, width: 20, height: 20 });
    const b = segment(0, 0.9, { x: 12, y: 10, width: 20, height: 20 });
    expect(merge([[a], [b]], 'nms')).toEqual([b]);
  });

  it('drops what falls below minScore and keeps the best maxDetections', () => {
    const views = [[segment(0, 0.9, { x: 0, y: 0, width: 5, height: 5 }), segment(0, 0.5, { x: 20, y: 0, width: 5, height: 5 }), segment(0, 0.1, { x: 40, y: 0, width: 5, height: 5 })]];
    const merged = mergeViews(views.map((segments) => ({ segments })), { ...MERGE_DEFAULTS, minScore: 0.2, maxDetections: 1 });
    expect(merged.map((s) => s.score)).toEqual([0.9]);
  });

  it('measures box overlap', () => {
    expect(boxIoU({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150, 9);
    expect(boxIoU({ x: 0, y: 0, width: 10, height: 10 }, { x: 10, y: 0, width: 10, height: 10 })).toBe(0);
  });
});

describe('planTiles', () => {
  it('tiles nothing when the photo is not much larger than the input', () => {
    expect(planTiles(640, 480, 640, 480)).toEqual([]);
    expect(planTiles(1200, 900, 640, 480)).toEqual([]);
  });

  it('covers a 12-megapixel photo with overlapping tiles at its own resolution', () => {
    const tiles = planTiles(4000, 3000, 640, 480);
    expect(tiles).toHaveLength(64);
    expect(tiles.every((t) => t.width === 640 && t.height === 480)).toBe(true);
    // Every pixel is in some tile, and neighbours overlap by at least a fifth of a tile.
    const xs = [...new Set(tiles.map((t) => t.x))].sort((a, b) => a - b);
    const ys = [...new Set(tiles.map((t) => t.y))].sort((a, b) => a - b);
    expect([xs[0], xs.at(-1)! + 640, ys[0], ys.at(-1)! + 480]).toEqual([0, 4000, 0, 3000]);
    for (let i = 1; i < xs.length; i++) expect(xs[i - 1]! + 640 - xs[i]!).toBeGreaterThanOrEqual(TILE_DEFAULTS.overlap * 640);
    for (let i = 1; i < ys.length; i++) expect(ys[i - 1]! + 480 - ys[i]!).toBeGreaterThanOrEqual(TILE_DEFAULTS.overlap * 480);
  });

  it('gives a larger photo larger tiles rather than more than maxTiles, keeping the input\'s shape', () => {
    const tiles = planTiles(8000, 6000, 640, 480);
    expect(tiles.length).toBeLessThanOrEqual(TILE_DEFAULTS.maxTiles);
    expect(tiles[0]!.width).toBeGreaterThan(640);
    expect(tiles[0]!.width / tiles[0]!.height).toBeCloseTo(640 / 480, 2);
    expect(Math.max(...tiles.map((t) => t.x + t.width))).toBe(8000);
  });

  it('zooms into a small photo with tiles smaller than the input when asked', () => {
    const tiles = planTiles(640, 480, 640, 480, { minScale: 0, tileScale: 0.6, overlap: 0.25, maxTiles: 4 });
    expect(tiles).toHaveLength(4);
    expect(tiles[0]).toEqual({ x: 0, y: 0, width: 384, height: 288 });
    expect(tiles[3]).toEqual({ x: 256, y: 192, width: 384, height: 288 });
  });
});

describe('dropCutByTile', () => {
  const image = { width: 200, height: 100 };
  const tile = { x: 100, y: 0, width: 100, height: 100 };

  it('drops objects touching an edge the tile cuts through, keeps those at the photo\'s own edges', () => {
    const cut = segment(0, 0.9, { x: 100, y: 10, width: 20, height: 20 });
    const inside = segment(0, 0.9, { x: 120, y: 10, width: 20, height: 20 });
    const atPhotoEdge = segment(0, 0.9, { x: 170, y: 0, width: 30, height: 20 });
    expect(dropCutByTile([cut, inside, atPhotoEdge], tile, image)).toEqual([inside, atPhotoEdge]);
  });
});
