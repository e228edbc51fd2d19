/**
 * The one module that touches onnxruntime-node: opens a YOLO-seg ONNX file, reads its metadata and
 * runs it. Everything before (decoding, letterbox) and after (NMS, masks) lives elsewhere.
 *
 * onnxruntime-node runs a session synchronously on the calling thread, so on the main thread every
 * model run would stall the event loop (HTTP, database, sharp's callbacks) for its whole length.
 * The session therefore lives in a worker thread of its own, and the main thread stays free while
 * the model runs.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { OnnxMetadataError, parseClassNames, parseImageSize, readOnnxMetadata } from './onnx-metadata.js';

/** A float tensor returned by the model. */
export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** An opened YOLO-seg model. */
export interface OnnxSegmentationModel {
  inputWidth: number;
  inputHeight: number;
  classNames: string[];
  /** Raw `metadata_props` of the file (version, license, ...). */
  metadata: Readonly<Record<string, string>>;
  /**
   * Runs one letterboxed NCHW float image of 3 × inputHeight × inputWidth values; resolves to
   * detections [1, C, N] and prototypes [1, K, H, W], and rejects (never hangs) on any bad input.
   * The input is copied to the model thread, unless `transfer` hands its buffer over: then
   * `input` is detached (empty) once run() returns, which saves a copy per image.
   */
  run(input: Float32Array, options?: RunOptions): Promise<ModelOutputs>;
  /**
   * Runs one letterboxed image given as interleaved RGB bytes (inputHeight × inputWidth × 3), made
   * into the model's float input on the model thread. With `minScore`, detections keep only the
   * anchors whose best class score reaches it (the dims say how many). Rejects on bad input; the
   * caller's bytes are copied, never taken.
   */
  runImage(rgb: Uint8Array, options?: { minScore?: number }): Promise<ModelOutputs>;
  /**
   * Hands a run's output buffers back to the model thread for its next runs; they are detached
   * (empty) afterwards. Optional: a process that segments many images calls it once it is done
   * with each result, which spares its garbage collector megabytes of new buffers per image.
   */
  recycle(outputs: ModelOutputs): void;
  /** Frees the native session and its thread. */
  release(): Promise<void>;
}

/** What one run gives: detections [1, C, N] and prototypes [1, K, H, W]. */
export interface ModelOutputs {
  detections: OutputTensor;
  prototypes: OutputTensor;
}

/** Options of one model run. */
export interface RunOptions {
  /** Hand `input`'s buffer to the model thread instead of copying it (the caller loses it). */
  transfer?: boolean;
}

/** Options for opening a model. */
export interface OpenModelOptions {
  /** Intra-op threads; 0 lets onnxruntime pick (one per core). */
  threads?: number;
  /**
   * Whether onnxruntime's intra-op threads spin while waiting for work (its default, true). Spinning
   * saves a little latency per run but burns the cores that decoding and mask encoding need.
   */
  spinning?: boolean;
}

/**
 * The model thread. It is plain JavaScript passed as a string so that it runs the same from the
 * compiled package and from the TypeScript sources under test.
 */
const MODEL_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.onnxruntime);
ort.InferenceSession.create(workerData.bytes, {
  intraOpNumThreads: workerData.threads,
  // One image at a time through a chain of convolutions: inter-op parallelism only adds overhead.
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: workerData.spinning ? '1' : '0' } } },
}).then((session) => {
  // runImage's float input, made here from RGB bytes: one buffer for every run (runs are chained).
  let planar;
  const toPlanar = (rgb, pixels) => {
    planar ??= new Float32Array(pixels * 3);
    const scale = 1 / 255;
    for (let i = 0, j = 0; i < pixels; i++, j += 3) {
      planar[i] = rgb[j] * scale;
      planar[pixels + i] = rgb[j + 1] * scale;
      planar[2 * pixels + i] = rgb[j + 2] * scale;
    }
    return planar;
  };
  // Detections [1, C, N] keep only the anchors whose best class reaches minScore: a few dozen of
  // thousands, so the main thread is not sent (and does not collect) megabytes per image.
  const compact = ({ data, dims }, minScore) => {
    const [, channels, anchors] = dims;
    const best = new Float32Array(anchors);
    for (let row = 4; row < 4 + workerData.classCount; row++) {
      for (let i = 0, at = row * anchors; i < anchors; i++) if (data[at + i] > best[i]) best[i] = data[at + i];
    }
    const kept = [];
    for (let i = 0; i < anchors; i++) if (best[i] >= minScore) kept.push(i);
    const out = new Float32Array(channels * kept.length);
    for (let row = 0; row < channels; row++) {
      for (let k = 0; k < kept.length; k++) out[row * kept.length + k] = data[row * anchors + kept[k]];
    }
    return { data: out, dims: [1, channels, kept.length] };
  };
  // Output buffers the main thread has handed back (recycle()): each run's outputs are copied into
  // one and moved, not cloned, so the main thread's heap does not see megabytes of new buffers per
  // image, which would make V8 run a full garbage collection every few images.
  const spare = new Map();
  const pooled = ({ data, dims }) => {
    if (!spare.has(data.length)) spare.set(data.length, []);
    const free = spare.get(data.length);
    const out = (free && free.pop()) || new Float32Array(data.length);
    out.set(data);
    return { data: out, dims };
  };
  const handle = async ({ id, input, rgb, dims, minScore }) => {
    try {
      const data = rgb ? toPlanar(rgb, dims[2] * dims[3]) : input;
      const results = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) });
      const outputs = session.outputNames.map((name) => {
        const output = { data: results[name].data, dims: results[name].dims };
        return minScore !== undefined && output.dims.length === 3 ? compact(output, minScore) : pooled(output);
      });
      parentPort.postMessage({ id, outputs }, outputs.map((output) => output.data.buffer));
    } catch (error) {
      parentPort.postMessage({ id, error: String(error && error.message || error) });
    }
  };
  let chain = Promise.resolve();
  parentPort.on('message', (message) => {
    if (message.recycle) {
      // Kept only in sizes this thread hands out (not compacted detections), a few of each.
      const list = spare.get(message.recycle.length);
      if (list && list.length < 4) list.push(message.recycle);
      return;
    }
    chain = chain.then(() => handle(message));
  });
  parentPort.postMessage({ ready: true });
}, (error) => parentPort.postMessage({ ready: false, error: String(error && error.message || error) }));
`;

/** Reply of the model thread to one run. */
interface RunReply {
  id: number;
  outputs?: OutputTensor[];
  error?: string;
}

/**
 * Opens a YOLO-seg ONNX model from its bytes. Throws OnnxMetadataError when the file is not an
 * Ultralytics-style segmentation export, or onnxruntime's error when it cannot be loaded.
 */
export async function openOnnxModel(bytes: Uint8Array, options: OpenModelOptions = {}): Promise<OnnxSegmentationModel> {
  const metadata = readOnnxMetadata(bytes);
  if (metadata.task !== undefined && metadata.task !== 'segment') {
    throw new OnnxMetadataError(`model task is "${metadata.task}", segcat needs a segmentation ("segment") model`);
  }
  if (metadata.names === undefined || metadata.imgsz === undefined) {
    throw new OnnxMetadataError('model metadata lacks "names" or "imgsz"; export it with Ultralytics');
  }
  const classNames = parseClassNames(metadata.names);
  const { width: inputWidth, height: inputHeight } = parseImageSize(metadata.imgsz);
  const worker = await startModelThread(bytes, options.threads ?? 0, options.spinning ?? true, classNames.length);
  const pending = new Map<number, { resolve: (reply: RunReply) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  /** Set once the thread has crashed or been released: no run may wait on it after that. */
  let dead: Error | undefined;
  const die = (error: Error) => {
    dead ??= error;
    for (const waiter of pending.values()) waiter.reject(dead);
    pending.clear();
  };
  worker.on('message', (reply: RunReply) => {
    pending.get(reply.id)?.resolve(reply);
    pending.delete(reply.id);
  });
  worker.on('error', die);
  worker.on('exit', (code) => die(new Error(`the model thread stopped (exit code ${code})`)));
  const dims = [1, 3, inputHeight, inputWidth];
  return {
    inputWidth,
    inputHeight,
    classNames,
    metadata: Object.freeze({ ...metadata }),
    async run(input, runOptions = {}) {
      if (dead) throw dead;
      checkInput(input, dims);
      return send({ id: nextId++, input, dims }, runOptions.transfer ? [input.buffer as ArrayBuffer] : []);
    },
    async runImage(rgb, runOptions = {}) {
      if (dead) throw dead;
      checkImageInput(rgb, inputWidth, inputHeight);
      const { minScore } = runOptions;
      if (minScore !== undefined && !(minScore >= 0 && minScore <= 1)) throw new RangeError(`minScore must be from 0 to 1, got ${minScore}`);
      return send({ id: nextId++, rgb, dims, minScore }, []);
    },
    recycle(outputs) {
      if (dead) return;
      for (const tensor of [outputs.detections, outputs.prototypes]) {
        // Only buffers that can move (the model thread's own), and never one already moved.
        if (tensor.data.buffer.byteLength === 0) continue;
        try {
          worker.postMessage({ recycle: tensor.data }, [tensor.data.buffer as ArrayBuffer]);
        } catch {
          // Not transferable (a copy made elsewhere): let the garbage collector have it.
        }
      }
    },
    release: async () => {
      die(new Error('the model was released'));
      await worker.terminate();
    },
  };

  async function send(message: { id: number; dims: number[] } & Record<string, unknown>, transfer: ArrayBuffer[]): Promise<ModelOutputs> {
    const reply = await new Promise<RunReply>((resolve, reject) => {
      pending.set(message.id, { resolve, reject });
      try {
        worker.postMessage(message, transfer);
      } catch (error) {
        pending.delete(message.id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    if (reply.error !== undefined) throw new Error(`model run failed: ${reply.error}`);
    const detections = reply.outputs!.find((t) => t.dims.length === 3);
    const prototypes = reply.outputs!.find((t) => t.dims.length === 4);
    if (!detections || !prototypes) {
      throw new OnnxMetadataError('model outputs are not YOLO-seg shaped ([1,C,N] and [1,K,H,W])');
    }
    return { detections, prototypes };
  }
}

/** Refuses an RGB image that is not the model input's size. */
function checkImageInput(rgb: unknown, width: number, height: number): asserts rgb is Uint8Array {
  const tag = Object.prototype.toString.call(rgb);
  // By tag, like checkInput: a Buffer is a Uint8Array, and test runners have their own realm.
  if (tag !== '[object Uint8Array]') throw new TypeError(`model image must be a Uint8Array of RGB bytes, got ${tag}`);
  const array = rgb as Uint8Array;
  if (array.length !== width * height * 3) {
    throw new TypeError(`model image must hold ${width}×${height}×3 = ${width * height * 3} bytes, got ${array.length}`);
  }
}

/** Refuses what the model cannot take, before it reaches the thread. */
function checkInput(input: unknown, dims: readonly number[]): asserts input is Float32Array {
  const expected = dims.reduce((a, b) => a * b, 1);
  // Compared by tag: typed arrays from another realm (a test runner's) are Float32Arrays all the same.
  if (Object.prototype.toString.call(input) !== '[object Float32Array]') {
    throw new TypeError(`model input must be a Float32Array, got ${Object.prototype.toString.call(input)}`);
  }
  const array = input as Float32Array;
  if (array.buffer.byteLength === 0 && expected > 0) {
    throw new TypeError('model input is detached: its buffer was handed over by an earlier run({ transfer: true })');
  }
  if (array.length !== expected) {
    throw new TypeError(`model input must hold ${dims.join('×')} = ${expected} values, got ${array.length}`);
  }
}

/** Starts the model thread and waits until its session is loaded. */
function startModelThread(bytes: Uint8Array, threads: number, spinning: boolean, classCount: number): Promise<Worker> {
  const onnxruntime = createRequire(import.meta.url).resolve('onnxruntime-node');
  const worker = new Worker(MODEL_THREAD, { eval: true, workerData: { onnxruntime, bytes, threads, spinning, classCount } });
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      void worker.terminate();
      reject(error);
    };
    worker.once('error', fail);
    worker.once('message', (message: { ready: boolean; error?: string }) => {
      worker.off('error', fail);
      if (message.ready) resolve(worker);
      else fail(new Error(message.error));
    });
  });
}
