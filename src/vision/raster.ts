/**
 * The one module that imports sharp: decoding and validating images, the model's letterboxed input,
 * mask PNGs, cut-outs, overlays and thumbnails. Everything here uses libvips' native operations;
 * pixel maths that sharp cannot express lives in the pure modules beside it, and which formats are
 * accepted in formats.ts. (Past ~300 lines on purpose: every sharp pipeline is here, so sharp's
 * settings and errors have one owner.)
 */
import sharp, { type Metadata, type OverlayOptions as SharpOverlay, type Sharp } from 'sharp';
import { backgroundMask } from './background-mask.js';
import { ACCEPTED_FORMAT_NAMES, acceptedFormat, type AcceptedFormat } from './formats.js';
import type { Letterbox } from './letterbox.js';
import { labelsSvg, overlayColour, scaleBoxMask, tintLayer, type OverlaySegment } from './overlay-layers.js';
import type { Box, BoxMask } from './types.js';

// Set once for the process. Each image is seen once, so libvips' operation cache would only hold
// memory; and an open-file cache keeps deleted uploads' handles alive.
sharp.cache({ memory: 32, files: 0, items: 32 });
// One libvips worker per image: onnxruntime already keeps the cores busy with the model run, and
// several images are decoded at once by callers (the CLI batch, the queue worker).
sharp.concurrency(1);

/** Why an input was refused. */
export type InvalidImageReason = 'NOT_AN_IMAGE' | 'UNSUPPORTED_FORMAT' | 'CORRUPT' | 'TOO_MANY_PIXELS';

/** An input that segcat will not process; `message` says what was wrong. */
export class InvalidImageError extends Error {
  override name = 'InvalidImageError';
  constructor(
    /** Machine-readable cause. */
    readonly reason: InvalidImageReason,
    message: string,
  ) {
    super(message);
  }
}

/** What validateImage learned about an accepted image. */
export interface ImageInfo {
  format: AcceptedFormat;
  mimeType: string;
  /** Size as people see it (after EXIF orientation). */
  width: number;
  height: number;
}

/** An image input: a file path or its bytes. */
export type ImageInput = string | Buffer;

function describe(input: ImageInput): string {
  return typeof input === 'string' ? input : 'image';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads the header only (no pixel decoding) and checks format and pixel count. */
async function inspectHeader(input: ImageInput, maxPixels: number): Promise<ImageInfo> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    const text = errorText(error);
    if (/input file is missing/i.test(text)) throw new InvalidImageError('NOT_AN_IMAGE', `${describe(input)}: no such file`);
    const reason = /unsupported image format/i.test(text) ? 'NOT_AN_IMAGE' : 'CORRUPT';
    throw new InvalidImageError(reason, `${describe(input)}: ${reason === 'NOT_AN_IMAGE' ? 'not an image' : 'corrupt image'} (${text})`);
  }
  const accepted = acceptedFormat(meta.format, meta.compression);
  if (!accepted) {
    throw new InvalidImageError('UNSUPPORTED_FORMAT', `${describe(input)}: ${meta.format} is not supported; send ${ACCEPTED_FORMAT_NAMES}`);
  }
  // An animated GIF's frames are all held by some decoders, so every frame counts against the limit.
  const frames = accepted.format === 'gif' ? Math.max(1, meta.pages ?? 1) : 1;
  const pixels = meta.width * (meta.pageHeight ?? meta.height) * frames;
  if (pixels > maxPixels) {
    throw new InvalidImageError('TOO_MANY_PIXELS', `${describe(input)}: ${meta.width}x${meta.pageHeight ?? meta.height}${frames > 1 ? `x${frames} frames` : ''} is ${pixels} pixels, more than the limit of ${maxPixels}`);
  }
  return { format: accepted.format, mimeType: accepted.mimeType, width: meta.autoOrient.width, height: meta.autoOrient.height };
}

/** Options of validateImage. */
export interface ValidateOptions {
  /** Largest accepted width × height (× frames for GIF), checked from the header before decoding. */
  maxPixels: number;
}

/**
 * Accepts a raster image (JPEG, PNG, WebP, GIF's first frame, AVIF, TIFF) or throws
 * InvalidImageError: the header is checked first (format, pixel count), then the first frame is
 * fully decoded so truncated or damaged files are refused before anything is stored.
 */
export async function validateImage(input: ImageInput, options: ValidateOptions): Promise<ImageInfo> {
  const info = await inspectHeader(input, options.maxPixels);
  // stats() decodes every pixel without keeping an output buffer.
  await decodeOrReject(input, info, sharp(input, { failOn: 'error', limitInputPixels: options.maxPixels }).stats());
  return info;
}

/**
 * validateImage and makeThumbnail in one decode, for images entering the catalogue: the
 * thumbnail's resize reads every pixel, so truncated or damaged files are refused all the same.
 */
export async function acceptImage(input: ImageInput, options: ValidateOptions): Promise<{ info: ImageInfo; thumbnail: EncodedImage }> {
  const info = await inspectHeader(input, options.maxPixels);
  const pipeline = sharp(input, { autoOrient: true, failOn: 'error', limitInputPixels: options.maxPixels });
  const thumbnail = await decodeOrReject(input, info, encodeThumbnail(pipeline));
  return { info, thumbnail };
}

async function decodeOrReject<T>(input: ImageInput, info: ImageInfo, decoding: Promise<T>): Promise<T> {
  try {
    return await decoding;
  } catch (error) {
    throw new InvalidImageError('CORRUPT', `${describe(input)}: corrupt or truncated ${info.format} (${errorText(error)})`);
  }
}

/** An image scaled and padded into the model input: interleaved RGB bytes, input-sized. */
export interface LetterboxedImage {
  rgb: Buffer;
  letterbox: Letterbox;
}

/**
 * Decodes an image (EXIF orientation applied; grey, palette, CMYK, 16-bit and alpha inputs turned
 * into 8-bit sRGB, alpha flattened onto the padding grey) and letterboxes it as `plan` says.
 * `planFor` receives the oriented size and returns the letterbox to apply.
 */
export async function decodeLetterboxed(
  input: ImageInput,
  planFor: (width: number, height: number) => Letterbox,
  maxPixels: number,
): Promise<LetterboxedImage> {
  const { width, height } = await inspectHeader(input, maxPixels);
  const letterbox = planFor(width, height);
  const grey = { r: 114, g: 114, b: 114 };
  try {
    const rgb = await sharp(input, { autoOrient: true, failOn: 'error', limitInputPixels: maxPixels })
      .flatten({ background: grey })
      // Ultralytics letterboxes with bilinear interpolation; matching it keeps inputs like training's.
      .resize(letterbox.resizedWidth, letterbox.resizedHeight, { fit: 'fill', kernel: 'linear' })
      .extend({ top: letterbox.padTop, bottom: letterbox.padBottom, left: letterbox.padLeft, right: letterbox.padRight, background: grey })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer();
    return { rgb, letterbox };
  } catch (error) {
    throw new InvalidImageError('CORRUPT', `${describe(input)}: cannot decode (${errorText(error)})`);
  }
}

/** PNG settings for masks: they are mostly flat runs, so fast deflate loses little size. */
const MASK_PNG = { compressionLevel: 3, adaptiveFiltering: false } as const;

function rawMask(data: Uint8Array, width: number, height: number): Sharp {
  return sharp(data, { raw: { width, height, channels: 1 } });
}

/** Full-size, single-channel, white-on-black PNG of a mask stored inside its box. */
export async function encodeMaskPng(mask: BoxMask, width: number, height: number): Promise<Buffer> {
  const { x, y, width: w, height: h } = mask.box;
  return rawMask(mask.data, w, h)
    .extend({ top: y, left: x, bottom: height - y - h, right: width - x - w, background: { r: 0, g: 0, b: 0 } })
    .toColourspace('b-w')
    .png(MASK_PNG)
    .toBuffer();
}

/** PNG of the background (pixels no segment covers, white) and its area in pixels. */
export async function encodeBackgroundPng(
  segments: ReadonlyArray<{ mask: BoxMask }>,
  width: number,
  height: number,
): Promise<{ png: Buffer; area: number }> {
  const background = backgroundMask(segments.map((s) => s.mask), width, height);
  const png = await rawMask(background.data, width, height).toColourspace('b-w').png(MASK_PNG).toBuffer();
  return { png, area: background.area };
}

/**
 * Checks that `maskPng` is a mask as `segcat segment` writes them: a PNG with one grey channel (a
 * grey-and-alpha PNG also passes), the size of the image it was made from.
 */
export async function checkMaskFile(maskPng: string, image: { width: number; height: number }): Promise<void> {
  const meta = await sharp(maskPng, { limitInputPixels: false }).metadata().catch((error: unknown) => {
    const text = errorText(error);
    throw new InvalidImageError('NOT_AN_IMAGE', `${maskPng}: ${/input file is missing/i.test(text) ? 'no such file' : `not a PNG mask (${text})`}`);
  });
  const grey = meta.channels === 1 || (meta.channels === 2 && meta.hasAlpha) || meta.space === 'b-w';
  if (meta.format !== 'png' || !grey) {
    throw new InvalidImageError(
      'UNSUPPORTED_FORMAT',
      `${maskPng}: expected a one-channel (grey) PNG mask as \`segcat segment\` writes, got a ${meta.channels}-channel ${meta.format}`,
    );
  }
  if (meta.width !== image.width || meta.height !== image.height) {
    throw new InvalidImageError(
      'UNSUPPORTED_FORMAT',
      `${maskPng} is ${meta.width}x${meta.height} but the image is ${image.width}x${image.height}; was the mask made from this image?`,
    );
  }
}

/** Reads the part of a full-size mask PNG inside `box` as a BoxMask (thresholded to 0/255). */
export async function readBoxMask(maskPng: ImageInput, box: Box): Promise<BoxMask> {
  try {
    const data = await sharp(maskPng)
      .extract({ left: box.x, top: box.y, width: box.width, height: box.height })
      .toColourspace('b-w')
      .threshold(128)
      .raw()
      .toBuffer();
    return { box: { ...box }, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (error) {
    throw new InvalidImageError('CORRUPT', `${describe(maskPng)}: cannot read the mask inside box ${box.x},${box.y} ${box.width}x${box.height} (${errorText(error)})`);
  }
}

/** How a cut-out is made. */
export interface CutoutOptions {
  /** `transparent` (mask as alpha) or `white` (the recipe's look). */
  background: 'transparent' | 'white';
  /** Output encoding; `jpeg` only with a white background. */
  format: 'png' | 'webp' | 'jpeg';
}

/** An encoded picture and its size. */
export interface EncodedImage {
  data: Buffer;
  width: number;
  height: number;
}

function checkCutoutOptions(options: CutoutOptions): void {
  if (options.format === 'jpeg' && options.background === 'transparent') {
    throw new RangeError('a transparent cut-out needs PNG or WebP (JPEG has no alpha); use background "white" for JPEG');
  }
}

/** Turns the RGB pixels of a mask's box into the encoded cut-out. */
async function finishCutout(rgb: Buffer, mask: BoxMask, options: CutoutOptions): Promise<EncodedImage> {
  const { width, height } = mask.box;
  // sharp orders operations itself (alpha removal after channel joins, flatten before them), so
  // each step that must follow another gets its own pass over the small, decoded crop.
  const alpha = Buffer.from(mask.data.buffer, mask.data.byteOffset, mask.data.length);
  let cut = sharp(rgb, { raw: { width, height, channels: 3 } }).joinChannel(alpha, { raw: { width, height, channels: 1 } });
  if (options.background === 'white') {
    const rgba = await cut.raw().toBuffer();
    cut = sharp(rgba, { raw: { width, height, channels: 4 } }).flatten({ background: '#ffffff' });
  }
  // Level 3: cut-outs are written once and served often, but level 6+ doubles the time for ~5% less.
  const encoded = options.format === 'png' ? cut.png({ compressionLevel: 3 })
    : options.format === 'webp' ? cut.webp({ quality: 90, alphaQuality: 100 })
    : cut.jpeg({ quality: 90 });
  return { data: await encoded.toBuffer(), width, height };
}

function cropRegion(box: Box) {
  return { left: box.x, top: box.y, width: box.width, height: box.height };
}

/**
 * The object alone, cropped to its mask's box: pixels outside the mask are clear (or white).
 * Throws RangeError for a transparent JPEG, which cannot exist.
 */
export async function extractCutout(image: ImageInput, mask: BoxMask, options: CutoutOptions): Promise<EncodedImage> {
  checkCutoutOptions(options);
  const rgb = await sharp(image, { autoOrient: true })
    .extract(cropRegion(mask.box))
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer();
  return finishCutout(rgb, mask, options);
}

/**
 * Several cut-outs from one image, decoding it once (much cheaper per segment than extractCutout
 * in a loop when an image has many objects, or many megapixels).
 */
export async function extractCutouts(image: ImageInput, masks: readonly BoxMask[], options: CutoutOptions): Promise<EncodedImage[]> {
  checkCutoutOptions(options);
  if (masks.length <= 1) return Promise.all(masks.map((mask) => extractCutout(image, mask, options)));
  const { data, info } = await sharp(image, { autoOrient: true })
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: 3 } as const;
  return Promise.all(
    masks.map(async (mask) => finishCutout(await sharp(data, { raw }).extract(cropRegion(mask.box)).raw().toBuffer(), mask, options)),
  );
}

/** Options of renderOverlay. */
export interface OverlayOptions {
  /** Longest side of the picture (default 1280); larger images are scaled down. */
  maxSide?: number;
  /** Encoding (default jpeg). */
  format?: 'jpeg' | 'webp';
}

/** The image with each segment tinted in its own colour, outlined, and labelled "label 93%". */
export async function renderOverlay(
  image: ImageInput,
  segments: readonly OverlaySegment[],
  options: OverlayOptions = {},
): Promise<Buffer> {
  const { width, height } = await inspectHeader(image, Number.MAX_SAFE_INTEGER);
  const factor = Math.min(1, (options.maxSide ?? 1280) / Math.max(width, height));
  const w = Math.max(1, Math.round(width * factor));
  const h = Math.max(1, Math.round(height * factor));
  const scaled = segments.map((segment) => ({ ...segment, mask: scaleBoxMask(segment.mask, factor, w, h) }));
  const layers: SharpOverlay[] = scaled.map((segment, index) => ({
    input: Buffer.from(tintLayer(segment.mask, overlayColour(index)).buffer),
    raw: { width: segment.mask.box.width, height: segment.mask.box.height, channels: 4 },
    left: segment.mask.box.x,
    top: segment.mask.box.y,
  }));
  layers.push({ input: Buffer.from(labelsSvg(scaled, w, h)), left: 0, top: 0 });
  // Composite runs after resize in a pipeline, so the base is scaled in a first pass.
  const base = await sharp(image, { autoOrient: true }).resize(w, h, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer();
  const out = sharp(base, { raw: { width: w, height: h, channels: 3 } }).composite(layers);
  return options.format === 'webp' ? out.webp({ quality: 80 }).toBuffer() : out.jpeg({ quality: 82 }).toBuffer();
}

/** A small WebP preview, about 320 px on its long side (never enlarged). */
export async function makeThumbnail(image: ImageInput): Promise<EncodedImage> {
  return encodeThumbnail(sharp(image, { autoOrient: true }));
}

async function encodeThumbnail(pipeline: Sharp): Promise<EncodedImage> {
  const { data, info } = await pipeline
    .resize(320, 320, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
