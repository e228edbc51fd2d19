/**
 * The one module that imports sharp: decoding and validating images, the model's letterboxed input,
 * mask PNGs, cut-outs, overlays and thumbnails. Everything here uses libvips' native operations;
 * pixel maths that sharp cannot express lives in the pure modules beside it, and which formats are
 * accepted in formats.ts. (Past ~300 lines on purpose: every sharp pipeline is here, so sharp's
 * settings and errors have one owner.)
 */
import sharp, { type Metadata, type OverlayOptions as SharpOverlay } from 'sharp';
import { backgroundMask } from './background-mask.js';
import { cutoutPixels, type RgbRaster } from './cutout-pixels.js';
import { ACCEPTED_FORMAT_NAMES, acceptedFormat, type AcceptedFormat } from './formats.js';
import { isSrgbProfile } from './icc-profile.js';
import { encodeBoxMaskPng, encodeFullMaskPng, encodePixelsPng } from './mask-png.js';
import type { Letterbox } from './letterbox.js';
import { labelsSvg, overlayColour, scaleBoxMask, tintLayer, type OverlaySegment } from './overlay-layers.js';
import { planRefinement, refineMask } from './refine.js';
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
/** What the header says, plus whether its colour profile may be ignored (see icc-profile.ts). */
interface HeaderInfo extends ImageInfo {
  /** No profile, or an sRGB one: decoding can skip the colour transform, which would change no pixel. */
  srgb: boolean;
}

async function inspectHeader(input: ImageInput, maxPixels: number): Promise<HeaderInfo> {
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
  return {
    format: accepted.format,
    mimeType: accepted.mimeType,
    width: meta.autoOrient.width,
    height: meta.autoOrient.height,
    srgb: meta.icc === undefined || isSrgbProfile(meta.icc),
  };
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
  return facts(info);
}

function facts({ srgb: _srgb, ...info }: HeaderInfo): ImageInfo {
  return info;
}

/** Options of acceptImage. */
export interface AcceptOptions extends ValidateOptions {
  /** Also letterbox the image for a model, from the same decode (see decodeLetterboxed). */
  planFor?: (width: number, height: number) => Letterbox;
}

/** What acceptImage made from an image's one decode. */
export interface AcceptedImage {
  info: ImageInfo;
  thumbnail: EncodedImage;
  /** The model's input, when `planFor` was given. */
  letterboxed?: LetterboxedImage;
}

/**
 * validateImage, makeThumbnail and (with `planFor`) decodeLetterboxed in one decode, for images
 * entering the catalogue: the decode reads every pixel, so truncated or damaged files are refused
 * all the same, and the model's input is exactly what decodeLetterboxed would make later.
 */
export async function acceptImage(input: ImageInput, options: AcceptOptions): Promise<AcceptedImage> {
  const info = await inspectHeader(input, options.maxPixels);
  // Without a model, decode at the thumbnail's size (JPEGs shrink while decoding).
  const letterbox = options.planFor?.(info.width, info.height) ?? thumbnailPlan(info);
  const kernel = options.planFor ? 'linear' : 'lanczos3';
  const decoded = await decodeOrReject(input, info, decodeForLetterbox(input, info, letterbox, options.maxPixels, kernel));
  const [thumbnail, letterboxed] = await Promise.all([
    thumbnailFromDecoded(decoded, info),
    options.planFor ? letterboxDecoded(decoded, letterbox).then((rgb) => ({ rgb, letterbox })) : undefined,
  ]);
  return { info: facts(info), thumbnail, letterboxed };
}

/** The thumbnail's box: at most THUMBNAIL_SIDE on the long side, never enlarged. */
const THUMBNAIL_SIDE = 320;

/** Thumbnails are small and made once per image: effort 2 of 6 encodes in about half the time for a few % more bytes. */
const THUMBNAIL_WEBP = { quality: 80, effort: 2 } as const;

function thumbnailSize(info: { width: number; height: number }): { width: number; height: number } {
  const factor = Math.min(1, THUMBNAIL_SIDE / info.width, THUMBNAIL_SIDE / info.height);
  return { width: Math.max(1, Math.round(info.width * factor)), height: Math.max(1, Math.round(info.height * factor)) };
}

/** A letterbox whose resized size is the thumbnail's, for decoding when no model input is wanted. */
function thumbnailPlan(info: ImageInfo): Letterbox {
  const { width, height } = thumbnailSize(info);
  return {
    imageWidth: info.width, imageHeight: info.height, inputWidth: width, inputHeight: height,
    resizedWidth: width, resizedHeight: height, padLeft: 0, padTop: 0, padRight: 0, padBottom: 0,
  };
}

/** An image decoded once to interleaved 8-bit sRGB (alpha kept), at the size a letterbox needs. */
interface DecodedRaster {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

/**
 * Decodes the oriented image for `letterbox`: shrunk straight to the letterbox's resized size when
 * it is smaller than the image (JPEGs shrink while decoding, so a 12-megapixel photo costs a
 * fraction of a full decode), else at its own size. Throws sharp's error on a damaged file.
 */
async function decodeForLetterbox(
  input: ImageInput,
  info: HeaderInfo,
  letterbox: Letterbox,
  maxPixels: number,
  // Ultralytics letterboxes with bilinear interpolation; matching it keeps inputs like training's.
  kernel: 'linear' | 'lanczos3' = 'linear',
): Promise<DecodedRaster> {
  // An sRGB profile's transform changes no pixel but costs about as much as decoding a small photo.
  let pipeline = sharp(input, { autoOrient: true, failOn: 'error', limitInputPixels: maxPixels, ignoreIcc: info.srgb });
  if (letterbox.resizedWidth <= info.width && letterbox.resizedHeight <= info.height) {
    pipeline = pipeline.resize(letterbox.resizedWidth, letterbox.resizedHeight, { fit: 'fill', kernel });
  }
  const { data, info: out } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (out.channels !== 3 && out.channels !== 4) throw new Error(`decoded to ${out.channels} channels, expected RGB or RGBA`);
  return { data, width: out.width, height: out.height, channels: out.channels };
}

const PADDING_GREY = { r: 114, g: 114, b: 114 };

/** The model input (RGB bytes, input-sized) from a decode: scaled if needed, alpha on grey, padded. */
async function letterboxDecoded(decoded: DecodedRaster, letterbox: Letterbox): Promise<Buffer> {
  const { data, width, height, channels } = decoded;
  let pipeline = sharp(data, { raw: { width, height, channels } });
  if (width !== letterbox.resizedWidth || height !== letterbox.resizedHeight) {
    pipeline = pipeline.resize(letterbox.resizedWidth, letterbox.resizedHeight, { fit: 'fill', kernel: 'linear' });
  }
  if (channels === 4) pipeline = pipeline.flatten({ background: PADDING_GREY });
  const { left, top, right, bottom } = { left: letterbox.padLeft, top: letterbox.padTop, right: letterbox.padRight, bottom: letterbox.padBottom };
  if (left + top + right + bottom > 0) pipeline = pipeline.extend({ top, bottom, left, right, background: PADDING_GREY });
  return pipeline.raw({ depth: 'uchar' }).toBuffer();
}

/** The thumbnail (as makeThumbnail makes it) from a decode of the image described by `info`. */
async function thumbnailFromDecoded(decoded: DecodedRaster, info: ImageInfo): Promise<EncodedImage> {
  const { width, height } = thumbnailSize(info);
  let pipeline = sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: decoded.channels } });
  if (decoded.width !== width || decoded.height !== height) pipeline = pipeline.resize(width, height, { fit: 'fill' });
  const data = await pipeline.webp(THUMBNAIL_WEBP).toBuffer();
  return { data, width, height };
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
  const info = await inspectHeader(input, maxPixels);
  const letterbox = planFor(info.width, info.height);
  try {
    return { rgb: await letterboxDecoded(await decodeForLetterbox(input, info, letterbox, maxPixels), letterbox), letterbox };
  } catch (error) {
    throw new InvalidImageError('CORRUPT', `${describe(input)}: cannot decode (${errorText(error)})`);
  }
}

/**
 * An image decoded once, as decodeLetterboxed sees it (oriented 8-bit sRGB, alpha flattened onto
 * the padding grey), so that several views of it (mirrored, tiles, another model) are letterboxed
 * from memory instead of decoding the file again.
 */
export interface DecodedImage {
  /** Interleaved RGB, `width * height * 3` bytes. */
  readonly rgb: Buffer;
  readonly width: number;
  readonly height: number;
}

/** Whether an input is already decoded. */
export function isDecodedImage(input: ImageInput | DecodedImage): input is DecodedImage {
  return typeof input !== 'string' && !Buffer.isBuffer(input);
}

/** The size of an image as people see it (EXIF orientation applied), from its header; refuses what decodeLetterboxed refuses up front. */
export async function readImageSize(input: ImageInput, maxPixels: number): Promise<{ width: number; height: number }> {
  const { width, height } = await inspectHeader(input, maxPixels);
  return { width, height };
}

/** Decodes a whole image for letterboxRegion, refusing what decodeLetterboxed refuses. */
export async function decodeImage(input: ImageInput, maxPixels: number): Promise<DecodedImage> {
  await inspectHeader(input, maxPixels);
  try {
    const { data, info } = await sharp(input, { autoOrient: true, failOn: 'error', limitInputPixels: maxPixels })
      .flatten({ background: { r: 114, g: 114, b: 114 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { rgb: data, width: info.width, height: info.height };
  } catch (error) {
    throw new InvalidImageError('CORRUPT', `${describe(input)}: cannot decode (${errorText(error)})`);
  }
}

/**
 * Letterboxes `region` of a decoded image (a Box inside it) as decodeLetterboxed does a file:
 * `planFor` receives the region's size.
 */
export async function letterboxRegion(
  image: DecodedImage,
  region: Box,
  planFor: (width: number, height: number) => Letterbox,
): Promise<LetterboxedImage> {
  const letterbox = planFor(region.width, region.height);
  const grey = { r: 114, g: 114, b: 114 };
  const rgb = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left: region.x, top: region.y, width: region.width, height: region.height })
    .resize(letterbox.resizedWidth, letterbox.resizedHeight, { fit: 'fill', kernel: 'linear' })
    .extend({ top: letterbox.padTop, bottom: letterbox.padBottom, left: letterbox.padLeft, right: letterbox.padRight, background: grey })
    .raw({ depth: 'uchar' })
    .toBuffer();
  return { rgb, letterbox };
}

/** Full-size, single-channel, white-on-black PNG of a mask stored inside its box. */
export { encodeBoxMaskPng as encodeMaskPng };

/** PNG of the background (pixels no segment covers, white) and its area in pixels. */
export async function encodeBackgroundPng(
  segments: ReadonlyArray<{ mask: BoxMask }>,
  width: number,
  height: number,
): Promise<{ png: Buffer; area: number }> {
  const background = backgroundMask(segments.map((s) => s.mask), width, height);
  return { png: await encodeFullMaskPng(background.data, width, height), area: background.area };
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
  /**
   * Refine the mask against the picture's edges first (refine.ts): the cut-out then covers the box
   * grown by the refinement's margin, with an anti-aliased edge. Default false: the mask as stored.
   */
  refine?: boolean;
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

/** Applies a mask to the picture's pixels around its box and encodes the cut-out. */
async function finishCutout(source: RgbRaster, mask: BoxMask, options: CutoutOptions): Promise<EncodedImage> {
  const { width, height } = mask.box;
  const channels = options.background === 'transparent' ? 4 : 3;
  const pixels = cutoutPixels(source, mask, options.background);
  if (options.format === 'png') return { data: await encodePixelsPng(pixels, width, height, channels), width, height };
  const cut = sharp(pixels, { raw: { width, height, channels } });
  const encoded = options.format === 'webp' ? cut.webp({ quality: 90, alphaQuality: 100 }) : cut.jpeg({ quality: 90 });
  return { data: await encoded.toBuffer(), width, height };
}

/**
 * Decodes the picture as displayed (EXIF orientation applied, colours in sRGB) to 8-bit RGB, all
 * of it or only `box`.
 */
export async function decodeRgb(image: ImageInput, box?: Box): Promise<RgbRaster> {
  // Reading the header first costs far less than the sRGB-to-sRGB colour transform it can skip.
  const { icc } = await sharp(image).metadata();
  let pipeline = sharp(image, { autoOrient: true, ignoreIcc: icc !== undefined && isSrgbProfile(icc) });
  // A JPEG is decoded top to bottom: rows below the box are never decoded.
  if (box) pipeline = pipeline.extract({ left: box.x, top: box.y, width: box.width, height: box.height });
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, left: box?.x ?? 0, top: box?.y ?? 0 };
}

/**
 * The object alone, cropped to its mask's box (grown a little when refined): pixels outside the
 * mask are clear (or white). Throws RangeError for a transparent JPEG, which cannot exist.
 */
export async function extractCutout(image: ImageInput, mask: BoxMask, options: CutoutOptions): Promise<EncodedImage> {
  checkCutoutOptions(options);
  if (options.refine) {
    const { width, height } = await inspectHeader(image, Number.MAX_SAFE_INTEGER);
    const plan = planRefinement(mask.box, width, height);
    const source = await decodeRgb(image, plan.read);
    return finishCutout(source, refineMask(mask, source, plan).alpha, options);
  }
  return finishCutout(await decodeRgb(image, mask.box), mask, options);
}

/**
 * Several cut-outs from one image, decoding it once (much cheaper per segment than extractCutout
 * in a loop when an image has many objects, or many megapixels).
 */
export async function extractCutouts(image: ImageInput, masks: readonly BoxMask[], options: CutoutOptions): Promise<EncodedImage[]> {
  checkCutoutOptions(options);
  if (masks.length <= 1) return Promise.all(masks.map((mask) => extractCutout(image, mask, options)));
  const whole = await decodeRgb(image);
  const refined = (mask: BoxMask) => refineMask(mask, whole, planRefinement(mask.box, whole.width, whole.height)).alpha;
  return Promise.all(masks.map((mask) => finishCutout(whole, options.refine ? refined(mask) : mask, options)));
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

/** A small WebP preview, about 320 px on its long side (never enlarged), as acceptImage makes it. */
export async function makeThumbnail(image: ImageInput): Promise<EncodedImage> {
  const info = await inspectHeader(image, Number.MAX_SAFE_INTEGER);
  return thumbnailFromDecoded(await decodeForLetterbox(image, info, thumbnailPlan(info), Number.MAX_SAFE_INTEGER, 'lanczos3'), info);
}
