/**
 * The one module that touches onnxruntime-node: opens a YOLO-seg ONNX file, reads its metadata and
 * runs it. Everything before (decoding, letterbox) and after (NMS, masks) lives elsewhere.
 */
import * as ort from 'onnxruntime-node';
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
  /** Runs one letterboxed NCHW float image; resolves to detections [1, C, N] and prototypes [1, K, H, W]. */
  run(input: Float32Array): Promise<{ detections: OutputTensor; prototypes: OutputTensor }>;
  /** Frees the native session. */
  release(): Promise<void>;
}

/** Options for opening a model. */
export interface OpenModelOptions {
  /** Intra-op threads; 0 lets onnxruntime pick (one per core). */
  threads?: number;
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
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: options.threads ?? 0,
    // One image at a time through a chain of convolutions: inter-op parallelism only adds overhead.
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0]!;
  const dims = [1, 3, inputHeight, inputWidth];
  return {
    inputWidth,
    inputHeight,
    classNames,
    metadata: Object.freeze({ ...metadata }),
    async run(input) {
      const results = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) });
      const tensors = session.outputNames.map((name) => results[name]!);
      const detections = tensors.find((t) => t.dims.length === 3);
      const prototypes = tensors.find((t) => t.dims.length === 4);
      if (!detections || !prototypes) {
        throw new OnnxMetadataError('model outputs are not YOLO-seg shaped ([1,C,N] and [1,K,H,W])');
      }
      return {
        detections: { data: detections.data as Float32Array, dims: detections.dims },
        prototypes: { data: prototypes.data as Float32Array, dims: prototypes.dims },
      };
    },
    release: () => session.release(),
  };
}
