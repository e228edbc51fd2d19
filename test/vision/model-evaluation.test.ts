/**
 * `segcat evaluate` on a hand-made COCO file: synthetic images (made with sharp) whose objects are
 * rectangles, a crowd region in RLE, and a stand-in segmenter that answers what each case needs,
 * so every figure is known by hand.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parseCocoInstances } from '../../src/vision/coco-instances.js';
import { evaluateModel } from '../../src/vision/model-evaluation.js';
import type { Segmenter } from '../../src/vision/segmenter.js';
import type { DetectedSegment } from '../../src/vision/types.js';

const CLASS_NAMES = ['person', 'cat', 'dog', 'bird', 'zebra'];

/** A rectangle as a COCO polygon. */
const polygon = (x: number, y: number, w: number, h: number) => [[x, y, x + w, y, x + w, y + h, x, y + h]];

/** The same rectangle as a detection of `label`. */
function detection(label: string, score: number, x: number, y: number, width: number, height: number): DetectedSegment {
  return {
    classId: CLASS_NAMES.indexOf(label),
    label,
    score,
    area: width * height,
    mask: { box: { x, y, width, height }, data: new Uint8Array(width * height).fill(255) },
  };
}

/** Two 64x48 images: cats, dogs, a person, and in the first a crowd of people over its 10 left columns. */
const INSTANCES = {
  images: [
    { id: 1, file_name: 'one.png', width: 64, height: 48 },
    { id: 2, file_name: 'two.png', width: 64, height: 48 },
  ],
  categories: [
    { id: 1, name: 'cat' },
    { id: 2, name: 'dog' },
    { id: 3, name: 'Person' },
    { id: 4, name: 'bird' },
  ],
  annotations: [
    { id: 1, image_id: 1, category_id: 1, bbox: [12, 10, 20, 30], area: 600, iscrowd: 0, segmentation: polygon(12, 10, 20, 30) },
    { id: 2, image_id: 1, category_id: 2, bbox: [40, 5, 8, 8], area: 64, iscrowd: 0, segmentation: polygon(40, 5, 8, 8) },
    { id: 3, image_id: 1, category_id: 3, bbox: [0, 0, 10, 48], area: 480, iscrowd: 1, segmentation: { size: [48, 64], counts: [0, 480, 2592] } },
    { id: 4, image_id: 2, category_id: 1, bbox: [0, 0, 20, 20], area: 400, iscrowd: 0, segmentation: polygon(0, 0, 20, 20) },
    { id: 5, image_id: 2, category_id: 2, bbox: [30, 20, 20, 20], area: 400, iscrowd: 0, segmentation: polygon(30, 20, 20, 20) },
    { id: 6, image_id: 2, category_id: 3, bbox: [52, 30, 10, 15], area: 150, iscrowd: 0, segmentation: polygon(52, 30, 10, 15) },
  ],
};

/** What the model finds when it gets everything right (plus a person inside the crowd). */
const PERFECT: Record<string, DetectedSegment[]> = {
  'one.png': [detection('cat', 0.7, 12, 10, 20, 30), detection('dog', 0.9, 40, 5, 8, 8), detection('person', 0.6, 2, 10, 5, 20)],
  'two.png': [detection('cat', 0.8, 0, 0, 20, 20), detection('dog', 0.85, 30, 20, 20, 20), detection('person', 0.95, 52, 30, 10, 15)],
};

/** A segmenter answering from a table by file name; the image must exist, and gives the size. */
function standIn(answers: Record<string, DetectedSegment[]>): Segmenter {
  return {
    info: { name: 'stand-in', version: 'test', inputWidth: 64, inputHeight: 64, classNames: CLASS_NAMES },
    async segment(input) {
      const file = String(input);
      const meta = await sharp(file).metadata().catch(() => {
        throw new Error(`${file}: no such file`);
      });
      const segments = answers[path.basename(file)] ?? [];
      return { width: meta.width, height: meta.height, segments, timings: { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0 } };
    },
    close: async () => {},
  };
}

describe('evaluateModel on a hand-made COCO file', () => {
  let dir: string;
  const instances = parseCocoInstances(INSTANCES);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-evaluate-'));
    for (const name of ['one.png', 'two.png']) {
      await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 40, g: 90, b: 160 } } }).png().toFile(path.join(dir, name));
    }
    await sharp({ create: { width: 48, height: 64, channels: 3, background: 'white' } }).png().toFile(path.join(dir, 'turned.png'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gives AP 1 for perfect predictions, and ignores the person found inside the crowd', async () => {
    const result = await evaluateModel(standIn(PERFECT), instances, dir);
    for (const evaluation of [result.box, result.mask!]) {
      expect(evaluation.summary).toMatchObject({ ap: 1, ap50: 1, ap75: 1 });
    }
    expect(result).toMatchObject({ images: 2, objects: 5, crowdRegions: 1, failures: [] });
    expect(result.categories).toEqual([
      { categoryId: 1, name: 'cat', objects: 2, images: 2, boxAp: 1, maskAp: 1 },
      { categoryId: 2, name: 'dog', objects: 2, images: 2, boxAp: 1, maskAp: 1 },
      { categoryId: 3, name: 'Person', objects: 1, images: 1, boxAp: 1, maskAp: 1 },
    ]);
  });

  it('gives AP 0 when every object is given another class', async () => {
    const other: Record<string, string> = { cat: 'dog', dog: 'cat', person: 'bird' };
    const relabel = (d: DetectedSegment) => ({ ...d, label: other[d.label]!, classId: CLASS_NAMES.indexOf(other[d.label]!) });
    const wrong = Object.fromEntries(Object.entries(PERFECT).map(([file, ds]) => [file, ds.map(relabel)]));
    const result = await evaluateModel(standIn(wrong), instances, dir);
    expect(result.box.summary).toMatchObject({ ap: 0, ap50: 0, ap75: 0 });
    expect(result.mask!.summary).toMatchObject({ ap: 0, ap50: 0, ap75: 0 });
    expect(result.categories.map((c) => [c.boxAp, c.maskAp])).toEqual([[0, 0], [0, 0], [0, 0]]);
    // Each image does hold a cat and a dog, so search finds those; the birds are wrong.
    expect(result.presence[0]).toMatchObject({ floor: 0.25, found: 4, returned: 6, present: 6 });
  });

  it('hits the hand-computed AP when one cat is drawn too wide', async () => {
    // One.png's cat 24 wide instead of 20: IoU 600/720 = 0.83, a hit at IoU .50-.80 (7 of 10
    // thresholds). Above that it is a miss ranked below two.png's cat (0.7 < 0.8): cat AP at those
    // thresholds is precision 1 up to recall 0.5, 51 of 101 recall points.
    const wide = { ...PERFECT, 'one.png': [detection('cat', 0.7, 12, 10, 24, 30), ...PERFECT['one.png']!.slice(1)] };
    const result = await evaluateModel(standIn(wide), instances, dir);
    const catAp = (7 + 3 * (51 / 101)) / 10;
    for (const evaluation of [result.box, result.mask!]) {
      expect(evaluation.summary.ap).toBeCloseTo((catAp + 1 + 1) / 3, 12);
      expect(evaluation.summary.ap50).toBe(1);
      expect(evaluation.summary.ap75).toBe(1);
    }
    expect(result.categories.find((c) => c.name === 'cat')!.maskAp).toBeCloseTo(catAp, 12);
  });

  it('measures what search sees: classes per image at each score floor', async () => {
    // A bird that is not there (0.3), and a zebra, which the file has no category for.
    const extra = { ...PERFECT, 'two.png': [...PERFECT['two.png']!, detection('bird', 0.3, 50, 0, 10, 10), detection('zebra', 0.9, 0, 30, 10, 10)] };
    const result = await evaluateModel(standIn(extra), instances, dir);
    expect(result.unlistedDetections).toBe(1);
    // Present: cat, dog, person in each image. Returned at 0.25: those and the bird.
    expect(result.presence.find((p) => p.floor === 0.25)).toEqual({ floor: 0.25, found: 6, returned: 7, present: 6, precision: 6 / 7, recall: 1, f1: (2 * (6 / 7)) / (6 / 7 + 1) });
    expect(result.presence.find((p) => p.floor === 0.35)).toMatchObject({ precision: 1, recall: 1 });
    // A floor counts its own value: the crowd's person (0.6) is still found at 0.6.
    expect(result.presence.find((p) => p.floor === 0.6)).toMatchObject({ found: 6, returned: 6 });
    expect(result.presence.at(-1)!.floor).toBe(0.6);
    // The bird has nothing to find, so it does not change AP.
    expect(result.box.summary.ap).toBe(1);
  });

  it('leaves out images it cannot read or whose size differs from the annotations, saying which', async () => {
    const more = parseCocoInstances({
      ...INSTANCES,
      images: [...INSTANCES.images, { id: 3, file_name: 'missing.png', width: 64, height: 48 }, { id: 4, file_name: 'turned.png', width: 64, height: 48 }],
      annotations: [...INSTANCES.annotations, { id: 7, image_id: 3, category_id: 1, bbox: [0, 0, 5, 5], area: 25, iscrowd: 0, segmentation: polygon(0, 0, 5, 5) }],
    });
    const progress: number[] = [];
    const result = await evaluateModel(standIn(PERFECT), more, dir, { onImage: (p) => progress.push(p.failed) });
    expect(progress).toEqual([0, 0, 1, 2]);
    expect(result.failures.map((f) => f.file)).toEqual(['missing.png', 'turned.png']);
    expect(result.failures[0]!.error).toMatch(/no such file/);
    expect(result.failures[1]!.error).toMatch(/48x64 .* 64x48; was it resized or rotated/);
    expect(result).toMatchObject({ images: 2, objects: 5 });
    expect(result.box.summary.ap).toBe(1);
  });

  it('measures boxes only when the file has no masks', async () => {
    const boxesOnly = parseCocoInstances({ ...INSTANCES, annotations: INSTANCES.annotations.map((a) => ({ ...a, segmentation: undefined })) });
    const result = await evaluateModel(standIn(PERFECT), boxesOnly, dir);
    expect(result.mask).toBeNull();
    expect(result.box.summary.ap).toBe(1);
  });

  it('refuses a file whose categories are none of the model classes, and names the bad entry of a broken file', async () => {
    const strangers = parseCocoInstances({ ...INSTANCES, categories: [{ id: 1, name: 'teapot' }], annotations: [] });
    await expect(evaluateModel(standIn(PERFECT), strangers, dir)).rejects.toThrow(/teapot.*matched to the model's classes by name/);
    expect(() => parseCocoInstances({ ...INSTANCES, annotations: [{ ...INSTANCES.annotations[0], image_id: 9 }] }, 'labels.json'))
      .toThrow('labels.json: annotation 1 refers to image_id 9, which the file does not list');
    expect(() => parseCocoInstances({ images: [], categories: [{ id: 1 }], annotations: [] }, 'labels.json')).toThrow(/labels\.json .*categories\.0\.name/);
  });
});
