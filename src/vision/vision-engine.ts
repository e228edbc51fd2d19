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
import { computeLetterbox } from './letterbox.js';
import { findModel, pullModel, readManifest } from './model-store.js';
import { PreparedInputs } from './prepared-inputs.js';
import { ACCURATE_RECIPE, composeSegmenter } from './accurate.js';
import { createSegmenter, type Segmenter } from './segmenter.js';
import type { Quality } from './types.js';

/**
 * Model inputs held between an image's check and its segmentation: 24 × 0.9 MB at 640×480, enough
 * for the images `segcat import` and a busy upload queue keep ahead of the worker.
 */
const PREPARED_INPUTS = { capacity: 24, maxAgeMs: 120_000 };

/**
 * A VisionEngine over a loaded segmenter. `prepareInputs: false` for a segmenter that letterboxes
 * several views itself (accurate quality), which a single prepared input cannot serve.
 */
export function visionEngine(segmenter: Segmenter, options: { maxPixels: number; prepareInputs?: boolean }): VisionEngine {
  const prepared = new PreparedInputs(PREPARED_INPUTS);
  const prepare = options.prepareInputs !== false;
  const { inputWidth, inputHeight } = segmenter.info;
  const planFor = (width: number, height: number) => computeLetterbox(width, height, inputWidth, inputHeight);
  return {
    model: segmenter.info,
    acceptImage: (file, { key } = {}) =>
      rejecting(async () => {
        const { info, thumbnail, letterboxed } = await acceptImage(file, { maxPixels: options.maxPixels, planFor: key && prepare ? planFor : undefined });
        if (key && letterboxed) prepared.put(key, letterboxed);
        return { facts: info, thumbnail };
      }),
    segment: (image, { key } = {}) =>
      rejecting(async () => {
        const held = key ? prepared.take(key) : undefined;
        return segmenter.segment(held ?? (typeof image === 'function' ? await image() : image));
      }),
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
  const segmenter = await pullAndLoad(config, onPull);
  return { ...visionEngine(segmenter, { maxPixels: config.maxImagePixels }), close: () => segmenter.close() };
}

/** Pulls `config.model`'s weights when missing, then loads it. */
async function pullAndLoad(config: Config, onPull: (file: string, action: string) => void): Promise<Segmenter> {
  const pulled = await pullModel(findModel(await readManifest(), config.model), { modelDir: config.modelDir, mirror: config.modelMirror });
  if (pulled.action !== 'already-present') onPull(pulled.path, pulled.action);
  return createSegmenter(config);
}

/**
 * Loads `config.model` at `config.quality` from `config.modelDir` without pulling (the CLI's
 * `segment` and `evaluate`): throws ModelError saying to pull when a model is missing.
 */
export async function createQualitySegmenter(config: Config): Promise<Segmenter> {
  const loaded: Segmenter[] = [];
  try {
    return await qualitySegmenter(config, async (name) => {
      const segmenter = await createSegmenter({ ...config, model: name });
      loaded.push(segmenter);
      return segmenter;
    });
  } catch (error) {
    await Promise.all(loaded.map((segmenter) => segmenter.close()));
    throw error;
  }
}

/**
 * The segmenter of `config.model` at `config.quality`: the model itself (fast), or the accurate
 * composition of it with the manifest's other model (src/vision/accurate.ts). `load` gives a
 * model by name.
 */
export async function qualitySegmenter(config: Config, load: (name: string) => Promise<Segmenter>): Promise<Segmenter> {
  const primary = await load(config.model);
  if (config.quality === 'fast') return primary;
  const partner = (await readManifest()).find((entry) => entry.name !== config.model);
  const secondary = partner ? await load(partner.name) : undefined;
  return composeSegmenter({ primary, secondary }, ACCURATE_RECIPE, {
    maxPixels: config.maxImagePixels,
    defaults: { minScore: config.minScore, maxDetections: config.maxDetections },
  });
}

async function rejecting<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InvalidImageError) throw new ImageRejectedError(error.message);
    throw error;
  }
}

/** The models a process has loaded, by manifest name and quality; the configured ones are loaded at start. */
export interface VisionRegistry {
  /** The engine of SEGCAT_MODEL at SEGCAT_QUALITY. */
  readonly current: VisionEngine;
  /** The engine of any model in the manifest at a quality (default SEGCAT_QUALITY), loaded on first use. */
  get(name: string, quality?: Quality): Promise<VisionEngine>;
  close(): Promise<void>;
}

/** Loads SEGCAT_MODEL (and at accurate quality its partner) now, and others when first asked for. */
export async function createVisionRegistry(config: Config, onPull: (file: string, action: string) => void = () => undefined): Promise<VisionRegistry> {
  const models = new Map<string, Promise<Segmenter>>();
  // A failed load (unknown or missing model) is not cached, so a later pull can fix it.
  const load = (name: string) => remembered(models, name, () => pullAndLoad({ ...config, model: name }, onPull));
  const engines = new Map<string, Promise<VisionEngine>>();
  const get = (name: string, quality: Quality = config.quality) =>
    remembered(engines, `${quality}:${name}`, async () =>
      visionEngine(await qualitySegmenter({ ...config, model: name, quality }, load), {
        maxPixels: config.maxImagePixels,
        prepareInputs: quality === 'fast',
      }));
  const current = await get(config.model);
  return {
    current,
    get,
    async close() {
      // The engines own nothing: accurate ones only compose the loaded models.
      for (const model of models.values()) await (await model.catch(() => undefined))?.close();
    },
  };
}

/** `map`'s promise for `key`, made by `make` on first use; a rejected one is forgotten. */
function remembered<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = map.get(key);
  if (!value) {
    value = make();
    value.catch(() => map.delete(key));
    map.set(key, value);
  }
  return value;
}
