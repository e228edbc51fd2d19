/**
 * Shared setup of the vision tests: the real models (pulled into models/ by `npm test`'s pretest
 * step, `segcat models pull`) and the real photos in test/fixtures/images.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config.js';
import { loadSegmenter, type Segmenter } from '../../src/vision/segmenter.js';

/** Both supported models. */
export const MODEL_NAMES = ['yolo11n-seg-uint8', 'yolov8n-seg-uint8'] as const;

/** Directory of the real test photos. */
export const PHOTO_DIR = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'images');

/** Path of one real photo, e.g. photo('dog'). */
export function photo(name: string): string {
  return path.join(PHOTO_DIR, `${name}.jpg`);
}

/** Loads a model from models/, failing with the command that fixes a missing file. */
export async function loadTestSegmenter(name: string = MODEL_NAMES[0]): Promise<Segmenter> {
  const modelPath = path.join(PACKAGE_ROOT, 'models', `${name}.onnx`);
  if (!existsSync(modelPath)) {
    throw new Error(`model ${name} is missing (${modelPath}); run: npx segcat models pull (offline: MODEL_MIRROR=<folder with the weights> npx segcat models pull)`);
  }
  if (!existsSync(PHOTO_DIR)) throw new Error(`test photos are missing: expected them in ${PHOTO_DIR}`);
  return loadSegmenter({ modelPath, name, threads: 0 });
}
