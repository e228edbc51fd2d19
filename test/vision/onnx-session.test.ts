/**
 * The model thread's contract: run() leaves the caller's buffer alone unless told to take it, and
 * rejects, never hangs, on input it cannot run.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config.js';
import { openOnnxModel, type OnnxSegmentationModel } from '../../src/vision/onnx-session.js';

let model: OnnxSegmentationModel;

beforeAll(async () => {
  model = await openOnnxModel(await readFile(path.join(PACKAGE_ROOT, 'models', 'yolo11n-seg-uint8.onnx')), { threads: 1 });
});

afterAll(() => model?.release());

const blankImage = () => new Float32Array(3 * model.inputWidth * model.inputHeight).fill(0.5);

it('runs the same array twice, leaving it intact', async () => {
  const input = blankImage();
  const first = await model.run(input);
  expect(input.length).toBe(3 * model.inputWidth * model.inputHeight);
  const second = await model.run(input);
  expect(second.detections.dims).toEqual(first.detections.dims);
  expect(Array.from(second.detections.data.subarray(0, 50))).toEqual(Array.from(first.detections.data.subarray(0, 50)));
});

it('hands the buffer over only when asked, and then refuses the detached array', async () => {
  const input = blankImage();
  await model.run(input, { transfer: true });
  expect(input.length).toBe(0);
  await expect(model.run(input)).rejects.toThrow(/detached.*transfer: true/);
});

it.each([
  ['an array of the wrong length', () => new Float32Array(5), /must hold 1×3×480×640 = 921600 values, got 5/],
  ['another kind of array', () => new Float64Array(3 * 640 * 480) as unknown as Float32Array, /must be a Float32Array, got \[object Float64Array\]/],
])('rejects %s at once', async (_what, make, message) => {
  await expect(model.run(make())).rejects.toThrow(message);
  // Still usable afterwards.
  expect((await model.run(blankImage())).prototypes.dims).toHaveLength(4);
});

describe('runImage (RGB bytes, made into the float input on the model thread)', () => {
  /** A real photo letterboxed into the model input, as RGB bytes. */
  const photoBytes = async () => {
    const { decodeLetterboxed } = await import('../../src/vision/raster.js');
    const { computeLetterbox } = await import('../../src/vision/letterbox.js');
    const file = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'images', 'dog.jpg');
    return (await decodeLetterboxed(file, (w, h) => computeLetterbox(w, h, model.inputWidth, model.inputHeight), 50_000_000)).rgb;
  };
  const planar = (rgb: Uint8Array) => {
    const pixels = model.inputWidth * model.inputHeight;
    const out = new Float32Array(pixels * 3);
    for (let i = 0; i < pixels; i++) for (let c = 0; c < 3; c++) out[c * pixels + i] = rgb[i * 3 + c]! / 255;
    return out;
  };

  it('gives what run() gives on the same pixels, and leaves the bytes alone', async () => {
    const rgb = await photoBytes();
    const copy = Buffer.from(rgb);
    const fromBytes = await model.runImage(rgb);
    const fromFloats = await model.run(planar(rgb));
    expect(rgb.equals(copy)).toBe(true);
    expect(fromBytes.detections.dims).toEqual(fromFloats.detections.dims);
    expect(Buffer.from(fromBytes.detections.data.buffer).equals(Buffer.from(fromFloats.detections.data.buffer))).toBe(true);
    expect(Buffer.from(fromBytes.prototypes.data.buffer).equals(Buffer.from(fromFloats.prototypes.data.buffer))).toBe(true);
  });

  it('keeps, with minScore, exactly the anchors whose best class reaches it, in order', async () => {
    const rgb = await photoBytes();
    const full = await model.runImage(rgb);
    const kept = await model.runImage(rgb, { minScore: 0.25 });
    const [, channels, anchors] = full.detections.dims as [number, number, number];
    const classes = model.classNames.length;
    const expected: number[] = [];
    for (let i = 0; i < anchors; i++) {
      let best = 0;
      for (let c = 0; c < classes; c++) best = Math.max(best, full.detections.data[(4 + c) * anchors + i]!);
      if (best >= 0.25) expected.push(i);
    }
    expect(expected.length).toBeGreaterThan(0); // the dog, the bicycle, the truck
    expect(expected.length).toBeLessThan(anchors / 10);
    expect(kept.detections.dims).toEqual([1, channels, expected.length]);
    for (let row = 0; row < channels; row++) {
      for (const [k, anchor] of expected.entries()) {
        expect(kept.detections.data[row * expected.length + k]).toBe(full.detections.data[row * anchors + anchor]);
      }
    }
  });

  it.each([
    ['too few bytes', () => new Uint8Array(10), {}, /must hold 640×480×3 = 921600 bytes, got 10/],
    ['floats instead of bytes', () => new Float32Array(640 * 480 * 3) as unknown as Uint8Array, {}, /must be a Uint8Array of RGB bytes, got \[object Float32Array\]/],
    ['a minScore out of range', () => new Uint8Array(640 * 480 * 3), { minScore: 2 }, /minScore must be from 0 to 1, got 2/],
  ])('rejects %s at once', async (_what, make, options, message) => {
    await expect(model.runImage(make(), options)).rejects.toThrow(message);
    expect((await model.runImage(new Uint8Array(640 * 480 * 3))).prototypes.dims).toHaveLength(4);
  });
});

it('takes back output buffers with recycle() and gives the same results in them', async () => {
  const first = await model.run(blankImage());
  const expected = Array.from(first.prototypes.data.subarray(0, 100));
  model.recycle(first);
  expect(first.prototypes.data.length).toBe(0); // moved back to the model thread
  const again = await model.run(blankImage());
  expect(Array.from(again.prototypes.data.subarray(0, 100))).toEqual(expected);
  // Recycling twice, or a buffer of this thread's own, is harmless.
  model.recycle(first);
  model.recycle({ detections: { data: new Float32Array(3), dims: [1, 3, 1] }, prototypes: { data: new Float32Array(3), dims: [1, 1, 1, 3] } });
  expect((await model.runImage(new Uint8Array(640 * 480 * 3))).prototypes.dims).toHaveLength(4);
});
