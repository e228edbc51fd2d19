/**
 * The vision module as the catalogue services see it (services/vision.port.ts): one loaded model
 * plus the raster operations, with vision errors turned into the port's error.
 */
import type { Config } from '../config.js';
import { ImageRejectedError, type VisionEngine } from '../services/vision.port.js';
import { backgroundMaskFilename, objectMaskFilename } from './mask-filename.js';
import {
  encodeBackgroundPng,
  encodeMaskPng,
  extractCutout,
  InvalidImageError,
  makeThumbnail,
  readBoxMask,
  renderOverlay,
  validateImage,
} from './raster.js';
import { createSegmenter, type Segmenter } from './segmenter.js';

/** A VisionEngine over a loaded segmenter. */
export function visionEngine(segmenter: Segmenter, options: { maxPixels: number }): VisionEngine {
  return {
    model: segmenter.info,
    validateImage: (file) => rejecting(() => validateImage(file, { maxPixels: options.maxPixels })),
    segment: (file) => rejecting(() => segmenter.segment(file)),
    encodeMask: encodeMaskPng,
    encodeBackground: encodeBackgroundPng,
    maskFileName: (root, segment) => objectMaskFilename(root, segment.label, segment.score, segment.mask.box),
    backgroundFileName: backgroundMaskFilename,
    readMask: readBoxMask,
    extract: extractCutout,
    thumbnail: makeThumbnail,
    overlay: (file, segments) => renderOverlay(file, segments),
  };
}

/** Loads the configured model (once per process) and returns the engine over it. */
export async function createVisionEngine(config: Config): Promise<VisionEngine & { close(): Promise<void> }> {
  const segmenter = await createSegmenter(config);
  return { ...visionEngine(segmenter, { maxPixels: config.maxImagePixels }), close: () => segmenter.close() };
}

async function rejecting<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InvalidImageError) throw new ImageRejectedError(error.message);
    throw error;
  }
}
