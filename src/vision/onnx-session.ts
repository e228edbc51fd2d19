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
  run(input: Float32Array, options?: RunOptions): Promise<{ detections: OutputTensor; prototypes: OutputTensor }>;
  /** Frees the native session and its thread. */
  release(): Promise<void>;
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
}).then((session) => {
  parentPort.on('message', async ({ id, input, dims }) => {
    try {
      const results = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, dims) });
      const outputs = session.outputNames.map((name) => ({ data: results[name].data, dims: results[name].dims }));
      parentPort.postMessage({ id, outputs });
    } catch (error) {
      parentPort.postMessage({ id, error: String(error && error.message || error) });
    }
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
  const worker = await startModelThread(bytes, options.threads ?? 0);
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
      const id = nextId++;
      const reply = await new Promise<RunReply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        try {
          worker.postMessage({ id, input, dims }, runOptions.transfer ? [input.buffer as ArrayBuffer] : []);
        } catch (error) {
          pending.delete(id);
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
    },
    release: async () => {
      die(new Error('the model was released'));
      await worker.terminate();
    },
  };
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
function startModelThread(bytes: Uint8Array, threads: number): Promise<Worker> {
  const onnxruntime = createRequire(import.meta.url).resolve('onnxruntime-node');
  const worker = new Worker(MODEL_THREAD, { eval: true, workerData: { onnxruntime, bytes, threads } });
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
