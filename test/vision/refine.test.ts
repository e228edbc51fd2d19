/**
 * Mask refinement on the real photos and the real model: refined masks stay on their object (inside
 * the box grown by the allowed margin, mostly overlapping the model's mask), and refined cut-outs
 * are what the refinement says.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { registerExtractCommand } from '../../src/cli/extract.command.js';
import { registerSegmentCommand } from '../../src/cli/segment.command.js';
import { maskArea, maskIntersection } from '../../src/vision/coco-masks.js';
import { decodeRgb, extractCutout, extractCutouts } from '../../src/vision/raster.js';
import { planRefinement, refineMask } from '../../src/vision/refine.js';
import type { Segmenter } from '../../src/vision/segmenter.js';
import type { Box, DetectedSegment } from '../../src/vision/types.js';
import { runCommands } from '../support/cli.js';
import { loadTestSegmenter, photo } from '../support/vision.js';

const PHOTOS = ['dog', 'eagle', 'giraffe', 'horses', 'kite', 'person', 'scream'];

let segmenter: Segmenter;
beforeAll(async () => {
  segmenter = await loadTestSegmenter();
});
afterAll(() => segmenter?.close());

/** `box` grown by `by` pixels on each side. */
function dilate(box: Box, by: number): Box {
  return { x: box.x - by, y: box.y - by, width: box.width + 2 * by, height: box.height + 2 * by };
}

function inside(inner: Box, outer: Box): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

/** The smallest box around the set pixels of a mask. */
function extent(mask: { box: Box; data: Uint8Array }): Box {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
  for (let y = 0; y < mask.box.height; y++) {
    for (let x = 0; x < mask.box.width; x++) {
      if (!mask.data[y * mask.box.width + x]) continue;
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  return { x: mask.box.x + x0, y: mask.box.y + y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

describe.each(PHOTOS)('%s.jpg', (name) => {
  let segments: DetectedSegment[];
  beforeAll(async () => {
    segments = (await segmenter.segment(photo(name))).segments;
  });

  it('refines every mask within its box grown by half a cell (long side / 320), on the same object', async () => {
    const pixels = await decodeRgb(photo(name));
    const halfCell = Math.ceil(Math.max(pixels.width, pixels.height) / 320);
    expect(segments.length).toBeGreaterThan(0);
    for (const segment of segments) {
      const refined = refineMask(segment.mask, pixels, planRefinement(segment.mask.box, pixels.width, pixels.height));
      expect(refined.area).toBeGreaterThan(0);
      expect(inside(extent(refined.mask), dilate(segment.mask.box, halfCell))).toBe(true);
      // The same object: the refined mask is mostly the model's, trimmed where it spilled onto the
      // background (a small kite against the sky loses half of its blob, rightly).
      const shared = maskIntersection(refined.mask, segment.mask);
      expect(shared / maskArea(refined.mask)).toBeGreaterThan(0.85);
      expect(shared / segment.area).toBeGreaterThan(0.3);
    }
  });
});

describe('refined cut-outs', () => {
  let dog: DetectedSegment;
  beforeAll(async () => {
    dog = (await segmenter.segment(photo('dog'))).segments.find((s) => s.label === 'dog')!;
  });

  it('cover the grown box, with an anti-aliased alpha', async () => {
    const plain = await extractCutout(photo('dog'), dog.mask, { background: 'transparent', format: 'png' });
    const refined = await extractCutout(photo('dog'), dog.mask, { background: 'transparent', format: 'png', refine: true });
    const region = planRefinement(dog.mask.box, 768, 576).region;
    expect(plain).toMatchObject({ width: dog.mask.box.width, height: dog.mask.box.height });
    expect(refined).toMatchObject({ width: region.width, height: region.height });
    expect(await sharp(refined.data).metadata()).toMatchObject({ format: 'png', hasAlpha: true, width: region.width, height: region.height });
    const alpha = await sharp(refined.data).extractChannel(3).raw().toBuffer();
    const partial = alpha.filter((a) => a > 0 && a < 255).length;
    expect(partial).toBeGreaterThan(0);
    // The edge is a band along the outline, not a haze over the picture.
    expect(partial / alpha.filter((a) => a > 0).length).toBeLessThan(0.1);
  });

  it('are the same made one at a time or together', async () => {
    const { segments } = await segmenter.segment(photo('horses'));
    const options = { background: 'white', format: 'png', refine: true } as const;
    const together = await extractCutouts(photo('horses'), segments.map((s) => s.mask), options);
    for (const [index, segment] of segments.entries()) {
      const alone = await extractCutout(photo('horses'), segment.mask, options);
      expect(together[index]).toMatchObject({ width: alone.width, height: alone.height });
      expect(await sharp(together[index]!.data).raw().toBuffer()).toEqual(await sharp(alone.data).raw().toBuffer());
    }
  });

  it('refuses a mask whose box is not inside the picture', async () => {
    const outside = { box: { ...dog.mask.box, x: 700 }, data: dog.mask.data };
    await expect(extractCutout(photo('dog'), outside, { background: 'transparent', format: 'png', refine: true })).rejects.toThrow(/box 700,220 180x323 does not lie inside the 768x576 photo/);
  });
});

describe('segcat extract --refine', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-refine-')); });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => runCommands([registerExtractCommand, registerSegmentCommand], args);

  it('cuts along the edges from the mask file, which stays as it was', async () => {
    const masks = path.join(dir, 'masks');
    expect((await run('segment', photo('eagle'), masks)).code).toBe(0);
    const mask = path.join(masks, (await readdir(masks)).find((name) => name.includes('.bird.'))!);
    const before = await sharp(mask).raw().toBuffer();
    const plain = path.join(dir, 'eagle.png');
    const refined = path.join(dir, 'eagle-refined.png');
    expect((await run('extract', photo('eagle'), mask, plain)).code).toBe(0);
    expect(await run('extract', photo('eagle'), mask, refined, '--refine')).toMatchObject({ code: 0, stdout: `${refined}\n` });
    const [plainMeta, refinedMeta] = [await sharp(plain).metadata(), await sharp(refined).metadata()];
    // eagle.jpg is 773 px wide: half a cell is 2 px on each side.
    expect(refinedMeta.width).toBe(plainMeta.width! + 4);
    expect(refinedMeta.height).toBe(plainMeta.height! + 4);
    const alpha = await sharp(refined).extractChannel(3).raw().toBuffer();
    expect(alpha.some((a) => a > 0 && a < 255)).toBe(true);
    expect(await sharp(mask).raw().toBuffer()).toEqual(before);
    const white = path.join(dir, 'eagle-refined.jpg');
    expect((await run('extract', photo('eagle'), mask, white, '--refine', '--background', 'white')).code).toBe(0);
    expect(await sharp(white).metadata()).toMatchObject({ format: 'jpeg', width: refinedMeta.width });
  });

  it('refuses --refine with a value, and a mask of another image, saying why', async () => {
    const masks = path.join(dir, 'dog-masks');
    await run('segment', photo('dog'), masks);
    const mask = path.join(masks, (await readdir(masks)).find((name) => name.includes('.dog.'))!);
    expect(await run('extract', photo('dog'), mask, path.join(dir, 'x.png'), '--refine=yes')).toMatchObject({ code: 1, stderr: expect.stringMatching(/unknown option '--refine=yes'/) });
    expect(await run('extract', photo('eagle'), mask, path.join(dir, 'y.png'), '--refine')).toMatchObject({ code: 1, stderr: expect.stringMatching(/768x576 but the image is 773x512/) });
  });
});
