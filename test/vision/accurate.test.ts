/**
 * Accurate segmentation with the real models on real photos: single views (mirrored, a region of
 * the photo) land where the object is, the composition keeps masks in the photo's own pixels, and
 * a small bird pasted into a 12-megapixel photo, which the whole photo shrunk to 640 px hides, is
 * found by accurate's tiles where it was pasted.
 */
import sharp from 'sharp';
import { ACCURATE_RECIPE, composeSegmenter, SINGLE_VIEW } from '../../src/vision/accurate.js';
import { boxIoU } from '../../src/vision/merge.js';
import { decodeImage } from '../../src/vision/raster.js';
import type { Segmenter } from '../../src/vision/segmenter.js';
import type { Box, DetectedSegment } from '../../src/vision/types.js';
import { loadTestSegmenter, MODEL_NAMES, photo } from '../support/vision.js';

let primary: Segmenter;
let secondary: Segmenter;
let accurate: Segmenter;

beforeAll(async () => {
  [primary, secondary] = await Promise.all(MODEL_NAMES.map((name) => loadTestSegmenter(name)));
  accurate = composeSegmenter({ primary, secondary }, ACCURATE_RECIPE);
});
afterAll(() => accurate?.close());

function best(segments: DetectedSegment[], label: string): DetectedSegment | undefined {
  return segments.filter((s) => s.label === label).sort((a, b) => b.score - a.score)[0];
}

/** Every mask lies inside the image and holds one byte per pixel of its box. */
function expectWellFormed(segments: DetectedSegment[], width: number, height: number): void {
  for (const { mask, area } of segments) {
    expect(mask.box.x).toBeGreaterThanOrEqual(0);
    expect(mask.box.y).toBeGreaterThanOrEqual(0);
    expect(mask.box.x + mask.box.width).toBeLessThanOrEqual(width);
    expect(mask.box.y + mask.box.height).toBeLessThanOrEqual(height);
    expect(mask.data).toHaveLength(mask.box.width * mask.box.height);
    expect(area).toBe(mask.data.filter((v) => v === 255).length);
    expect(area).toBeGreaterThan(0);
  }
}

describe('single views', () => {
  it('a mirrored view finds the dog, the bicycle and the truck where the plain view does', async () => {
    const plain = await primary.segment(photo('dog'));
    const mirrored = await primary.segment(photo('dog'), { mirror: true });
    expectWellFormed(mirrored.segments, 768, 576);
    for (const label of ['dog', 'bicycle', 'truck']) {
      expect(boxIoU(best(mirrored.segments, label)!.mask.box, best(plain.segments, label)!.mask.box)).toBeGreaterThan(0.8);
    }
  });

  it('a region of the photo gives boxes in the whole photo\'s pixels', async () => {
    const image = await decodeImage(photo('dog'), 50_000_000);
    const plain = await primary.segment(photo('dog'));
    const dog = best(plain.segments, 'dog')!.mask.box;
    // The left 60% of the photo, where the dog sits: found at the same place, at a larger scale.
    const region: Box = { x: 0, y: 96, width: 480, height: 480 };
    expect(dog.x + dog.width).toBeLessThanOrEqual(region.width);
    const part = await primary.segment(image, { region });
    expect(part).toMatchObject({ width: 768, height: 576 });
    expect(boxIoU(best(part.segments, 'dog')!.mask.box, dog)).toBeGreaterThan(0.8);
    await expect(primary.segment(image, { region: { x: 700, y: 0, width: 100, height: 100 } })).rejects.toThrow(/not inside the 768x576 image/);
  });
});

describe('the accurate composition', () => {
  it('with one view gives exactly what the model alone gives', async () => {
    const alone = await primary.segment(photo('horses'));
    const single = await composeSegmenter({ primary, secondary }, SINGLE_VIEW).segment(photo('horses'));
    expect(single.segments).toEqual(alone.segments);
  });

  it('finds what a person sees, with masks in the photo\'s own pixels, and says it was accurate', async () => {
    expect(accurate.info).toMatchObject({ name: 'yolo11n-seg-uint8', version: `${primary.info.version}+accurate` });
    const result = await accurate.segment(photo('dog'));
    expect(result).toMatchObject({ width: 768, height: 576 });
    expectWellFormed(result.segments, 768, 576);
    for (const label of ['dog', 'bicycle', 'truck']) expect(best(result.segments, label)?.score).toBeGreaterThan(0.4);
    expect(result.timings.inferenceMs).toBeGreaterThan(0);
    await expect(accurate.segment(photo('dog'), { mirror: true })).rejects.toThrow(/chooses its own views/);
  });

  it('refines the fused masks against the photo, within the fused boxes', async () => {
    const unrefined = await composeSegmenter({ primary, secondary }, { ...ACCURATE_RECIPE, refine: false }).segment(photo('dog'));
    const refined = await accurate.segment(photo('dog'));
    expectWellFormed(refined.segments, 768, 576);
    // Same objects, same boxes and scores: refining moves edges inside a box, nothing else.
    const summary = (segments: DetectedSegment[]) => segments.map(({ label, score, mask }) => ({ label, score, box: mask.box }));
    expect(summary(refined.segments)).toEqual(summary(unrefined.segments));
    const changed = refined.segments.map((segment, i) => segment.mask.data.filter((v, p) => v !== unrefined.segments[i]!.mask.data[p]).length);
    // The edges move: pixels change on every large object, but a mask stays mostly what the models drew.
    for (const [i, segment] of refined.segments.entries()) {
      if (segment.area > 5000) expect(changed[i]).toBeGreaterThan(0);
      expect(changed[i]).toBeLessThan(0.25 * unrefined.segments[i]!.area);
    }
  });

  it('finds a small bird pasted into a 4000×3000 photo, where it was pasted; fast does not', async () => {
    // eagle.jpg scaled to 120 px wide, pasted into giraffe.jpg scaled up to 12 megapixels.
    const eagle = await sharp(photo('eagle')).resize(120).toBuffer();
    const { width = 0, height = 0 } = await sharp(eagle).metadata();
    const pasted: Box = { x: 2900, y: 700, width, height };
    const large = await sharp(photo('giraffe'))
      .resize(4000, 3000, { fit: 'fill' })
      .composite([{ input: eagle, left: pasted.x, top: pasted.y }])
      .jpeg({ quality: 90 })
      .toBuffer();
    const fast = await primary.segment(large);
    expect(fast.segments.filter((s) => s.label === 'bird')).toEqual([]);
    const result = await accurate.segment(large);
    expect(result).toMatchObject({ width: 4000, height: 3000 });
    const birds = result.segments.filter((s) => s.label === 'bird');
    expect(birds).toHaveLength(1);
    const { box } = birds[0]!.mask;
    // Inside the pasted picture (a few pixels of slack), and most of the bird in it.
    expect(box.x).toBeGreaterThanOrEqual(pasted.x - 4);
    expect(box.y).toBeGreaterThanOrEqual(pasted.y - 4);
    expect(box.x + box.width).toBeLessThanOrEqual(pasted.x + pasted.width + 4);
    expect(box.y + box.height).toBeLessThanOrEqual(pasted.y + pasted.height + 4);
    expect(box.width * box.height).toBeGreaterThan(0.25 * pasted.width * pasted.height);
    expectWellFormed(result.segments, 4000, 3000);
  });
});
