/**
 * The measurement behind the README's refinement table, on a hand-made case whose answer is known:
 * a dark rectangle on a light photo, annotated exactly, and a stand-in model whose mask is a pixel
 * off on both sides. Refinement puts the edges back; boundary F at 0 px says so, the pairs and the
 * timing are counted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parseCocoInstances } from '../../src/vision/coco-instances.js';
import { decodeRgb } from '../../src/vision/raster.js';
import { evaluateRefinement } from '../../src/vision/refine-evaluation.js';
import type { Segmenter } from '../../src/vision/segmenter.js';
import type { DetectedSegment } from '../../src/vision/types.js';

const SIZE = 320;
const inside = (x: number, y: number) => x >= 100 && x < 200 && y >= 60 && y < 260;

const INSTANCES = parseCocoInstances({
  images: [{ id: 1, file_name: 'box.png', width: SIZE, height: SIZE }],
  categories: [{ id: 7, name: 'dog' }],
  annotations: [{ id: 1, image_id: 1, category_id: 7, bbox: [100, 60, 100, 200], area: 20000, iscrowd: 0, segmentation: [[100, 60, 200, 60, 200, 260, 100, 260]] }],
});

/** The model's answer: the rectangle shifted a pixel left. */
const SHIFTED: DetectedSegment = {
  classId: 0,
  label: 'dog',
  score: 0.9,
  area: 100 * 200,
  mask: { box: { x: 99, y: 60, width: 100, height: 200 }, data: new Uint8Array(100 * 200).fill(255) },
};

const standIn: Segmenter = {
  info: { name: 'stand-in', version: 'test', inputWidth: 640, inputHeight: 640, classNames: ['dog'] },
  segment: async () => ({ width: SIZE, height: SIZE, segments: [SHIFTED], timings: { preprocessMs: 0, inferenceMs: 5, postprocessMs: 0 } }),
  close: async () => {},
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-refine-evaluation-'));
  const pixels = Buffer.alloc(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) pixels.fill(inside(x, y) ? 60 : 190, (y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3);
  await sharp(pixels, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toFile(path.join(dir, 'box.png'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it("scores the model's and the refined masks on the same matched objects", async () => {
  const exact = await evaluateRefinement(standIn, INSTANCES, dir, (file) => decodeRgb(file), { tolerances: [0] });
  expect(exact).toMatchObject({ images: 1, objects: 1, matched: 1, segments: 1, tolerances: [0], modelMsPerImage: 5 });
  const [model, refined] = exact.rows;
  expect(model!.name).toBe('model');
  expect(refined!.name).toBe('refined');
  // Both overlap the truth by IoU ≥ 0.95: AP 1 at every threshold.
  expect(model!.mask.ap75).toBe(1);
  expect(refined!.mask.ap75).toBe(1);
  // The shifted outline is off by a pixel on two sides; the refined one is exact.
  expect(model!.boundaryF[0]).toBeLessThan(0.8);
  expect(refined!.boundaryF).toEqual([1]);
  expect(refined).toMatchObject({ better: 1, worse: 0 });
  expect(model!.msPerSegment).toBe(0);
  expect(refined!.msPerSegment).toBeGreaterThan(0);
  // At 1 px and more, a pixel's shift is forgiven.
  const tolerant = await evaluateRefinement(standIn, INSTANCES, dir, (file) => decodeRgb(file));
  expect(tolerant.tolerances).toEqual([1, 2, 3]);
  expect(tolerant.rows.map((row) => row.boundaryF)).toEqual([[1, 1, 1], [1, 1, 1]]);
  expect(tolerant.rows[1]).toMatchObject({ better: 0, worse: 0 });
});

it('refuses an annotation without a mask, naming it', async () => {
  const boxesOnly = parseCocoInstances({ ...INSTANCES, images: [{ id: 1, file_name: 'box.png', width: SIZE, height: SIZE }], categories: [{ id: 7, name: 'dog' }], annotations: [{ id: 9, image_id: 1, category_id: 7, bbox: [100, 60, 100, 200] }] });
  await expect(evaluateRefinement(standIn, boxesOnly, dir, (file) => decodeRgb(file))).rejects.toThrow(/annotation 9 has no mask/);
});
