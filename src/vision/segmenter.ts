/**
 * The segmenter: a YOLO-seg model loaded once, reusable by the CLI, the service and a queue worker.
 * Decoding and post-processing of concurrent calls run alongside the model; model runs themselves
 * are queued one at a time, because onnxruntime already spreads one run over every core.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { computeLetterbox } from './letterbox.js';
import { findModel, ModelError, PULL_HINT, readManifest, readModelBytes } from './model-store.js';
import { openOnnxModel, type OnnxSegmentationModel } from './onnx-session.js';
import { decodeSegments } from './postprocess.js';
import { decodeLetterboxed, type ImageInput } from './raster.js';
import { SEGMENT_DEFAULTS, type ModelInfo, type SegmentationResult, type SegmentOptions } from './types.js';

/** A loaded model that segments images. */
export interface Segmenter {
  /** Which model this is; record it with every result. */
  readonly info: ModelInfo;
  /** Segments one image (path or bytes); boxes and masks are in oriented original pixels. */
  segment(input: ImageInput, options?: SegmentOptions): Promise<SegmentationResult>;
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
  /** Images above this many pixels are refused before decoding (default 50 million). */
  maxPixels?: number;
  /** Defaults for every segment() call. */
  defaults?: SegmentOptions;
}

/** Interleaved RGB bytes → planar float 0..1, the model's NCHW input. */
function toPlanarFloat(rgb: Uint8Array, pixels: number): Float32Array {
  const out = new Float32Array(pixels * 3);
  const scale = 1 / 255;
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    out[i] = rgb[j]! * scale;
    out[pixels + i] = rgb[j + 1]! * scale;
    out[2 * pixels + i] = rgb[j + 2]! * scale;
  }
  return out;
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
      const settings = { ...SEGMENT_DEFAULTS, ...options.defaults, ...callOptions };
      const started = performance.now();
      const { rgb, letterbox } = await decodeLetterboxed(
        input,
        (width, height) => computeLetterbox(width, height, info.inputWidth, info.inputHeight),
        maxPixels,
      );
      const tensor = toPlanarFloat(rgb, info.inputWidth * info.inputHeight);
      const decoded = performance.now();
      let inferenceMs = 0;
      const run = queue.then(async () => {
        const t = performance.now();
        const outputs = await model.run(tensor, { transfer: true });
        inferenceMs = performance.now() - t;
        return outputs;
      });
      queue = run.catch(() => undefined);
      const { detections, prototypes } = await run;
      const inferred = performance.now();
      const segments = decodeSegments(detections, prototypes, letterbox, info.classNames, settings);
      return {
        width: letterbox.imageWidth,
        height: letterbox.imageHeight,
        segments,
        timings: { preprocessMs: decoded - started, inferenceMs, postprocessMs: performance.now() - inferred },
      };
    },
    close: () => model.release(),
  };
}

async function openModel(bytes: Uint8Array, where: string, threads: number | undefined): Promise<OnnxSegmentationModel> {
  try {
    return await openOnnxModel(bytes, { threads });
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
  return wrapModel(await openModel(bytes, options.modelPath, options.threads), name, options);
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
    maxPixels: config.maxImagePixels,
    defaults: { minScore: config.minScore, maxDetections: config.maxDetections },
  };
  return wrapModel(await openModel(bytes, entry.file, config.onnxThreads), entry.name, options);
}
