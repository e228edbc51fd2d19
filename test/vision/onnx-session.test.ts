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
