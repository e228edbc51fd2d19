import sharp from 'sharp';
import { encodeBackgroundPng, encodeMaskPng } from '../../src/vision/raster.js';
import type { DetectedSegment, SegmentationResult } from '../../src/vision/types.js';
import type { Segmenter } from '../../src/vision/segmenter.js';
import { loadTestSegmenter, MODEL_NAMES, photo } from '../support/vision.js';

/** What a careful human sees in each photo (test/fixtures/images/README.md), with score floors. */
const EXPECTED: Record<string, Array<{ label: string; atLeast: number; minScore: number }>> = {
  dog: [{ label: 'dog', atLeast: 1, minScore: 0.6 }, { label: 'bicycle', atLeast: 1, minScore: 0.6 }, { label: 'truck', atLeast: 1, minScore: 0.4 }],
  eagle: [{ label: 'bird', atLeast: 1, minScore: 0.8 }],
  horses: [{ label: 'horse', atLeast: 3, minScore: 0.6 }],
  person: [{ label: 'person', atLeast: 1, minScore: 0.7 }, { label: 'dog', atLeast: 1, minScore: 0.7 }, { label: 'horse', atLeast: 1, minScore: 0.7 }],
  giraffe: [{ label: 'giraffe', atLeast: 1, minScore: 0.7 }, { label: 'zebra', atLeast: 1, minScore: 0.4 }],
  kite: [{ label: 'person', atLeast: 2, minScore: 0.5 }, { label: 'kite', atLeast: 2, minScore: 0.5 }],
};

function count(segments: DetectedSegment[], label: string, minScore: number): number {
  return segments.filter((s) => s.label === label && s.score >= minScore).length;
}

/** Pixels of a mask PNG, checking it is the single-channel file the recipe writes. */
async function decodeGrey(png: Buffer): Promise<Uint8Array> {
  expect((await sharp(png).metadata()).channels).toBe(1);
  return sharp(png).extractChannel(0).raw().toBuffer();
}

describe.each(MODEL_NAMES)('segmenter with %s', (modelName) => {
  let segmenter: Segmenter;
  const results = new Map<string, SegmentationResult>();

  beforeAll(async () => {
    segmenter = await loadTestSegmenter(modelName);
    for (const name of [...Object.keys(EXPECTED), 'scream']) results.set(name, await segmenter.segment(photo(name)));
  });
  afterAll(() => segmenter?.close());

  it('reads input size and class names from the model file', () => {
    expect(segmenter.info.name).toBe(modelName);
    expect(segmenter.info.inputWidth).toBe(640);
    expect(segmenter.info.inputHeight).toBe(modelName.startsWith('yolo11') ? 480 : 640);
    expect(segmenter.info.classNames).toHaveLength(80);
    expect(segmenter.info.classNames[0]).toBe('person');
    expect(segmenter.info.classNames[60]).toBe('dining table');
  });

  it.each(Object.entries(EXPECTED))('finds what is in %s.jpg', (name, expected) => {
    const { segments } = results.get(name)!;
    for (const { label, atLeast, minScore } of expected) {
      expect(count(segments, label, minScore)).toBeGreaterThanOrEqual(atLeast);
    }
  });

  it('is not sure about anything in a painting (scream.jpg)', () => {
    expect(results.get('scream')!.segments.filter((s) => s.score >= 0.6)).toEqual([]);
  });

  it('reports the image size and boxes inside it, best score first', () => {
    const dog = results.get('dog')!;
    expect([dog.width, dog.height]).toEqual([768, 576]);
    for (const result of results.values()) {
      const scores = result.segments.map((s) => s.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      for (const { mask } of result.segments) {
        expect(mask.box.x + mask.box.width).toBeLessThanOrEqual(result.width);
        expect(mask.box.y + mask.box.height).toBeLessThanOrEqual(result.height);
        expect(mask.data).toHaveLength(mask.box.width * mask.box.height);
      }
    }
  });

  it('writes masks that lie inside their boxes and cover a plausible share of them', async () => {
    const { width, height, segments } = results.get('dog')!;
    for (const segment of segments) {
      const pixels = await decodeGrey(await encodeMaskPng(segment.mask, width, height));
      expect(pixels).toHaveLength(width * height);
      const { x, y, width: w, height: h } = segment.mask.box;
      let inside = 0;
      let outside = 0;
      let grey = 0;
      for (let py = 0; py < height; py++) {
        for (let px = 0; px < width; px++) {
          const v = pixels[py * width + px]!;
          if (v !== 0 && v !== 255) grey++;
          if (v === 0) continue;
          if (px >= x && px < x + w && py >= y && py < y + h) inside++;
          else outside++;
        }
      }
      expect({ outside, grey }).toEqual({ outside: 0, grey: 0 });
      expect(inside).toBe(segment.area);
      expect(segment.area / (w * h)).toBeGreaterThan(0.2);
      expect(segment.area / (w * h)).toBeLessThanOrEqual(1);
    }
  });

  it('writes a background mask that is the exact complement of the union of all masks', async () => {
    for (const name of ['horses', 'kite']) {
      const { width, height, segments } = results.get(name)!;
      const union = new Uint8Array(width * height);
      for (const { mask } of segments) {
        for (let i = 0; i < mask.data.length; i++) {
          if (mask.data[i]) union[(mask.box.y + Math.floor(i / mask.box.width)) * width + mask.box.x + (i % mask.box.width)] = 1;
        }
      }
      const { png, area } = await encodeBackgroundPng(segments, width, height);
      const background = await decodeGrey(png);
      let mismatches = 0;
      let expectedArea = 0;
      for (let i = 0; i < union.length; i++) {
        if ((background[i] === 255) === (union[i] === 1)) mismatches++;
        if (!union[i]) expectedArea++;
      }
      expect(mismatches).toBe(0);
      expect(area).toBe(expectedArea);
      expect(area).toBeLessThan(width * height);
    }
  });

  it('honours minScore and maxDetections', async () => {
    const strict = await segmenter.segment(photo('kite'), { minScore: 0.7 });
    expect(strict.segments.every((s) => s.score >= 0.7)).toBe(true);
    const capped = await segmenter.segment(photo('kite'), { maxDetections: 2 });
    expect(capped.segments).toHaveLength(2);
  });
});
