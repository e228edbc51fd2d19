/**
 * The segmenter: a YOLO-seg model loaded once, reusable by the CLI, the service and a queue worker.
 * Decoding and post-processing of concurrent calls run alongside the model; model runs themselves
 * are queued one at a time, because onnxruntime already spreads one run over every core.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { computeLetterbox, type Letterbox } from './letterbox.js';
import { mirrorRgbRows, unmirrorOutputs } from './mirror.js';
import { findModel, ModelError, PULL_HINT, readManifest, readModelBytes } from './model-store.js';
import { openOnnxModel, type OnnxSegmentationModel } from './onnx-session.js';
import { decodeSegments } from './postprocess.js';
import { decodeImage, decodeLetterboxed, isDecodedImage, letterboxRegion, type DecodedImage, type ImageInput, type LetterboxedImage } from './raster.js';
import { SEGMENT_DEFAULTS, type Box, type ModelInfo, type SegmentationResult, type SegmentOptions } from './types.js';

/** Which view of the image the model sees (src/vision/accurate.ts combines several). */
export interface ViewOptions {
  /** Only this part of the image (oriented pixels), scaled to the model input; results stay in whole-image pixels. */
  region?: Box;
  /** The image mirrored left to right; results are mirrored back. */
  mirror?: boolean;
}

/**
 * What segment() takes: a file path or bytes, an image decoded once for several views, or the
 * model's input already letterboxed for this model (acceptImage makes it while checking a file).
 */
export type SegmenterInput = ImageInput | DecodedImage | LetterboxedImage;

/** A loaded model that segments images. */
export interface Segmenter {
  /** Which model this is; record it with every result. */
  readonly info: ModelInfo;
  /**
   * Segments one image (path, bytes, or decoded once for several views); boxes and masks are in
   * oriented original pixels.
   */
  segment(input: SegmenterInput, options?: SegmentOptions & ViewOptions): Promise<SegmentationResult>;
  /** Frees the model. */
  close(): Promise<void>;
}

/** Options of loadSegmenter. */
export interface LoadSegmenterOptions {
  /** Path of the ONNX file. */
  modelPath: string;
  /** Name recorded in ModelInfo (default: the file's base name). */
  name?: string;
  /** onnxruntime intra-op threads (0 = one per core). */
  threads?: number;
  /** Whether onnxruntime's threads spin between runs (default false; see OpenModelOptions). */
  spinning?: boolean;
  /** Images above this many pixels are refused before decoding (default 50 million). */
  maxPixels?: number;
  /** Defaults for every segment() call. */
  defaults?: SegmentOptions;
}

function isLetterboxedImage(input: SegmenterInput): input is LetterboxedImage {
  return typeof input === 'object' && !Buffer.isBuffer(input) && 'letterbox' in input;
}

function wrapModel(model: OnnxSegmentationModel, name: string, options: LoadSegmenterOptions): Segmenter {
  const info: ModelInfo = Object.freeze({
    name,
    version: model.metadata.version ?? 'unknown',
    inputWidth: model.inputWidth,
    inputHeight: model.inputHeight,
    classNames: Object.freeze([...model.classNames]),
  });
  const maxPixels = options.maxPixels ?? SEGMENT_DEFAULTS.maxPixels;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    info,
    async segment(input, callOptions = {}) {
      const { region, mirror, ...thresholds } = callOptions;
      const settings = { ...SEGMENT_DEFAULTS, ...options.defaults, ...thresholds };
      const started = performance.now();
      const { rgb, letterbox, width, height } = await letterboxView(
        input,
        (w, h) => computeLetterbox(w, h, info.inputWidth, info.inputHeight),
        maxPixels,
        region,
      );
      if (mirror) mirrorRgbRows(rgb, info.inputWidth, info.inputHeight);
      const decoded = performance.now();
      let inferenceMs = 0;
      const run = queue.then(async () => {
        const t = performance.now();
        // The bytes go to the model thread, which makes the float input and sends back only the
        // detections that can pass minScore.
        const outputs = await model.runImage(rgb, { minScore: settings.minScore });
        inferenceMs = performance.now() - t;
        return outputs;
      });
      queue = run.catch(() => undefined);
      const { detections, prototypes } = await run;
      const inferred = performance.now();
      if (mirror) unmirrorOutputs(detections, prototypes, info.inputWidth);
      const segments = decodeSegments(detections, prototypes, letterbox, info.classNames, settings);
      // The segments hold their own masks: the outputs go back to the model thread for reuse.
      model.recycle({ detections, prototypes });
      for (const segment of region ? segments : []) {
        segment.mask.box.x += region!.x;
        segment.mask.box.y += region!.y;
      }
      return {
        width,
        height,
        segments,
        timings: { preprocessMs: decoded - started, inferenceMs, postprocessMs: performance.now() - inferred },
      };
    },
    close: () => model.release(),
  };
}

/**
 * The letterboxed input of one view, and the whole image's size. A plain file goes through
 * decodeLetterboxed (the fast path: JPEGs shrink while decoding); a region needs the decoded image.
 */
async function letterboxView(
  input: SegmenterInput,
  planFor: (width: number, height: number) => Letterbox,
  maxPixels: number,
  region: Box | undefined,
): Promise<LetterboxedImage & { width: number; height: number }> {
  if (isLetterboxedImage(input)) {
    const { letterbox } = input;
    const expected = planFor(letterbox.imageWidth, letterbox.imageHeight);
    if (region || expected.inputWidth !== letterbox.inputWidth || expected.inputHeight !== letterbox.inputHeight) {
      throw new RangeError('a letterboxed input must be the whole image, letterboxed for this model');
    }
    return { ...input, width: letterbox.imageWidth, height: letterbox.imageHeight };
  }
  if (!region && !isDecodedImage(input)) {
    const view = await decodeLetterboxed(input, planFor, maxPixels);
    return { ...view, width: view.letterbox.imageWidth, height: view.letterbox.imageHeight };
  }
  const image = isDecodedImage(input) ? input : await decodeImage(input, maxPixels);
  const area = region ?? { x: 0, y: 0, width: image.width, height: image.height };
  const inside = Number.isInteger(area.x) && Number.isInteger(area.y) && area.x >= 0 && area.y >= 0 && area.width >= 1 && area.height >= 1;
  if (!inside || area.x + area.width > image.width || area.y + area.height > image.height) {
    throw new RangeError(`region ${area.x},${area.y} ${area.width}x${area.height} is not inside the ${image.width}x${image.height} image`);
  }
  return { ...(await letterboxRegion(image, area, planFor)), width: image.width, height: image.height };
}

async function openModel(
  bytes: Uint8Array,
  where: string,
  options: Pick<LoadSegmenterOptions, 'threads' | 'spinning'>,
): Promise<OnnxSegmentationModel> {
  try {
    return await openOnnxModel(bytes, { threads: options.threads, spinning: options.spinning ?? false });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ModelError(`cannot load model ${where}: ${reason}; if the file is damaged, delete it and run: ${PULL_HINT}`);
  }
}

/** Loads the ONNX file at `options.modelPath` (no manifest check). */
export async function loadSegmenter(options: LoadSegmenterOptions): Promise<Segmenter> {
  const bytes = await readFile(options.modelPath).catch(() => {
    throw new ModelError(`model file ${options.modelPath} not found; run: ${PULL_HINT}`);
  });
  const name = options.name ?? options.modelPath.replace(/^.*[\\/]/, '').replace(/\.onnx$/, '');
  return wrapModel(await openModel(bytes, options.modelPath, options), name, options);
}

/**
 * Loads the model `config.model` names from `config.modelDir`, checked against the manifest's
 * sha256; throws ModelError saying to run `npx segcat models pull` when it is missing or corrupt.
 */
export async function createSegmenter(config: Config): Promise<Segmenter> {
  const entry = findModel(await readManifest(), config.model);
  const bytes = await readModelBytes(config.modelDir, entry);
  const options: LoadSegmenterOptions = {
    modelPath: path.join(config.modelDir, entry.file),
    name: entry.name,
    threads: config.onnxThreads,
    spinning: config.onnxSpinning,
    maxPixels: config.maxImagePixels,
    defaults: { minScore: config.minScore, maxDetections: config.maxDetections },
  };
  return wrapModel(await openModel(bytes, entry.file, options), entry.name, options);
}
