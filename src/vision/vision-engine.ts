/**
 * The vision module as the catalogue services see it (services/vision.port.ts): one loaded model
 * plus the raster operations, with vision errors turned into the port's error.
 */
import type { Config } from '../config.js';
import { ImageRejectedError, type VisionEngine } from '../services/vision.port.js';
import { backgroundMaskFilename, objectMaskFilename } from './mask-filename.js';
import {
  acceptImage,
  encodeBackgroundPng,
  encodeMaskPng,
  extractCutouts,
  InvalidImageError,
  makeThumbnail,
  readBoxMask,
  renderOverlay,
} from './raster.js';
import { findModel, pullModel, readManifest } from './model-store.js';
import { createSegmenter, type Segmenter } from './segmenter.js';

/** A VisionEngine over a loaded segmenter. */
export function visionEngine(segmenter: Segmenter, options: { maxPixels: number }): VisionEngine {
  return {
    model: segmenter.info,
    acceptImage: (file) =>
      rejecting(async () => {
        const { info, thumbnail } = await acceptImage(file, { maxPixels: options.maxPixels });
        return { facts: info, thumbnail };
      }),
    segment: (file) => rejecting(() => segmenter.segment(file)),
    encodeMask: encodeMaskPng,
    encodeBackground: encodeBackgroundPng,
    maskFileName: (root, segment) => objectMaskFilename(root, segment.label, segment.score, segment.mask.box),
    backgroundFileName: backgroundMaskFilename,
    readMask: readBoxMask,
    extractMany: extractCutouts,
    thumbnail: makeThumbnail,
    overlay: (file, segments) => renderOverlay(file, segments),
  };
}

/**
 * Loads the configured model (once per process) and returns the engine over it. Weights that are
 * missing are pulled first (from MODEL_MIRROR, else the manifest's pinned URL), so that
 * `npm install && npm start` works on a fresh machine; `onPull` hears about it.
 */
export async function createVisionEngine(
  config: Config,
  onPull: (file: string, action: string) => void = () => undefined,
): Promise<VisionEngine & { close(): Promise<void> }> {
  const pulled = await pullModel(findModel(await readManifest(), config.model), { modelDir: config.modelDir, mirror: config.modelMirror });
  if (pulled.action !== 'already-present') onPull(pulled.path, pulled.action);
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

/** The models a process has loaded, by manifest name; the configured one is loaded at start. */
export interface VisionRegistry {
  /** The engine of SEGCAT_MODEL. */
  readonly current: VisionEngine;
  /** The engine of any model in the manifest, loaded on first use. */
  get(name: string): Promise<VisionEngine>;
  close(): Promise<void>;
}

/** Loads SEGCAT_MODEL now and other models when first asked for. */
export async function createVisionRegistry(config: Config, onPull?: (file: string, action: string) => void): Promise<VisionRegistry> {
  const current = await createVisionEngine(config, onPull);
  const loaded = new Map<string, Promise<VisionEngine & { close(): Promise<void> }>>([[config.model, Promise.resolve(current)]]);
  return {
    current,
    get(name) {
      let engine = loaded.get(name);
      if (!engine) {
        engine = createVisionEngine({ ...config, model: name }, onPull);
        // A failed load (unknown or missing model) is not cached, so a later pull can fix it.
        engine.catch(() => loaded.delete(name));
        loaded.set(name, engine);
      }
      return engine;
    },
    async close() {
      for (const engine of loaded.values()) await (await engine.catch(() => undefined))?.close();
    },
  };
}
