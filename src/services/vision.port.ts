/**
 * What the catalogue services need from the vision module. src/vision/vision-engine.ts implements
 * it over the real model and sharp; services receive it, so they never import either.
 */
import type { EncodedImage, ImageInfo, ImageInput } from '../vision/raster.js';
import type { BoxMask, DetectedSegment, ModelInfo, SegmentationResult } from '../vision/types.js';

export type { EncodedImage, ImageInfo, ImageInput };

/** The file is not a supported image, is corrupt, or is too large to decode; the message says which. */
export class ImageRejectedError extends Error {
  override name = 'ImageRejectedError';
}

/** The vision operations the catalogue uses. */
export interface VisionEngine {
  /** The loaded model. */
  readonly model: ModelInfo;
  /**
   * Checks that a file is a supported raster image within the pixel limit (throws
   * ImageRejectedError) and makes its thumbnail, from the same decode. With `key` (the file's
   * sha256), the model's input is made from that decode too and held for a while, so that
   * `segment` with the same key soon after need not decode the file again.
   */
  acceptImage(file: string, options?: { key?: string }): Promise<{ facts: ImageInfo; thumbnail: EncodedImage }>;
  /**
   * Runs the model on an image (a file, its bytes, or a function that reads them, called only when
   * needed), using the input acceptImage held under `key` if there is one.
   */
  segment(image: ImageInput | (() => Promise<ImageInput>), options?: { key?: string }): Promise<SegmentationResult>;
  /** Image-sized, single-channel, white-on-black PNG of one mask. */
  encodeMask(mask: BoxMask, width: number, height: number): Promise<Buffer>;
  /** PNG of the pixels no segment covers, and how many there are. */
  encodeBackground(segments: DetectedSegment[], width: number, height: number): Promise<{ png: Buffer; area: number }>;
  /** The recipe's mask file name for a segment of an image whose root name is `root`. */
  maskFileName(root: string, segment: DetectedSegment): string;
  /** The recipe's background mask file name. */
  backgroundFileName(root: string): string;
  /** Reads a stored mask (a file or its bytes) back, limited to its box. */
  readMask(mask: ImageInput, box: BoxMask['box']): Promise<BoxMask>;
  /** Each object alone, cropped to its box, from one decode of the image; in the order of `masks`. */
  extractMany(
    image: ImageInput,
    masks: BoxMask[],
    options: { background: 'transparent' | 'white'; format: 'png' | 'webp'; refine?: boolean },
  ): Promise<EncodedImage[]>;
  /** WebP thumbnail about 320 px on its long side. */
  thumbnail(image: ImageInput): Promise<EncodedImage>;
  /** JPEG of the image with each segment tinted, outlined and labelled. */
  overlay(image: ImageInput, segments: { label: string; score: number; mask: BoxMask }[]): Promise<Buffer>;
}
