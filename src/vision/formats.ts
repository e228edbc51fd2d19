/**
 * The image formats segcat accepts, in one list, and every decision made from it: MIME types, file
 * extensions, the magic bytes that tell a format from a file's content, the decoder's name for it,
 * and the bound on a JPEG's metadata. A new format is added here (sharp must be able to decode it);
 * the gallery's file picker lists the MIME types too (web/index.html, kept equal by a test).
 */
import { jpegMetadataBytes } from './jpeg-metadata.js';

/** A format segcat accepts, by sharp's name for it (AVIF is sharp's `heif` with AV1 compression). */
export type AcceptedFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'tiff';

/** One accepted format. */
export interface ImageFormat {
  format: AcceptedFormat;
  /** Its name in messages. */
  displayName: string;
  mimeType: string;
  /** Extension of stored originals, and the one /files serves with this MIME type. */
  extension: string;
  /** Every extension that marks a file of this format by name (lower case, no dot). */
  extensions: readonly string[];
  /** Whether a file's first SNIFF_BYTES bytes announce this format. */
  matches(head: Buffer): boolean;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function text(head: Buffer, start: number, end: number): string {
  return head.subarray(start, end).toString('latin1');
}

/** The accepted formats, in the order messages name them. */
export const IMAGE_FORMATS: readonly ImageFormat[] = [
  {
    format: 'jpeg',
    displayName: 'JPEG',
    mimeType: 'image/jpeg',
    extension: 'jpg',
    extensions: ['jpg', 'jpeg'],
    matches: (head) => head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff,
  },
  {
    format: 'png',
    displayName: 'PNG',
    mimeType: 'image/png',
    extension: 'png',
    extensions: ['png'],
    matches: (head) => head.subarray(0, 8).equals(PNG_SIGNATURE),
  },
  {
    format: 'webp',
    displayName: 'WebP',
    mimeType: 'image/webp',
    extension: 'webp',
    extensions: ['webp'],
    matches: (head) => text(head, 0, 4) === 'RIFF' && text(head, 8, 12) === 'WEBP',
  },
  {
    format: 'gif',
    displayName: 'GIF',
    mimeType: 'image/gif',
    extension: 'gif',
    extensions: ['gif'],
    matches: (head) => text(head, 0, 4) === 'GIF8',
  },
  {
    format: 'avif',
    displayName: 'AVIF',
    mimeType: 'image/avif',
    extension: 'avif',
    extensions: ['avif'],
    matches: (head) => text(head, 4, 8) === 'ftyp' && /^avi[fs]$/.test(text(head, 8, 12)),
  },
  {
    format: 'tiff',
    displayName: 'TIFF',
    mimeType: 'image/tiff',
    extension: 'tiff',
    extensions: ['tiff', 'tif'],
    matches: (head) => ['II*\0', 'MM\0*'].includes(text(head, 0, 4)),
  },
];

/** The accepted formats as people read them: "JPEG, PNG, WebP, GIF, AVIF or TIFF". */
export const ACCEPTED_FORMAT_NAMES = `${IMAGE_FORMATS.slice(0, -1).map((f) => f.displayName).join(', ')} or ${IMAGE_FORMATS.at(-1)!.displayName}`;

/** How many bytes from the start of a file sniffImageFormat looks at. */
export const SNIFF_BYTES = 16;

/** The format a file's first bytes announce, or undefined when it is not one segcat accepts. */
export function sniffImageFormat(head: Buffer): AcceptedFormat | undefined {
  return IMAGE_FORMATS.find((format) => format.matches(head))?.format;
}

/**
 * The accepted format behind a decoder's format name and compression (sharp's `metadata()`), or
 * undefined for a format segcat does not accept.
 */
export function acceptedFormat(decoderFormat: string, compression?: string): ImageFormat | undefined {
  // sharp names AVIF `heif` (its container), told apart from HEIC by the compression.
  if (decoderFormat === 'heif') return compression === 'av1' ? formatNamed('avif') : undefined;
  return IMAGE_FORMATS.find((format) => format.format === decoderFormat && format.format !== 'avif');
}

/** Extension of a stored original of this MIME type; undefined for a type segcat does not accept. */
export function extensionOfMimeType(mimeType: string): string | undefined {
  return IMAGE_FORMATS.find((format) => format.mimeType === mimeType)?.extension;
}

/** MIME type of a stored file's extension (`jpg`, `png`…); undefined for any other. */
export function mimeTypeOfExtension(extension: string): string | undefined {
  return IMAGE_FORMATS.find((format) => format.extension === extension)?.mimeType;
}

/** Whether a file name ends in an accepted format's extension (any case). */
export function hasImageExtension(fileName: string): boolean {
  const dot = fileName.lastIndexOf('.');
  const extension = dot > 0 ? fileName.slice(dot + 1).toLowerCase() : '';
  return IMAGE_FORMATS.some((format) => format.extensions.includes(extension));
}

function formatNamed(name: AcceptedFormat): ImageFormat {
  return IMAGE_FORMATS.find((format) => format.format === name)!;
}

/**
 * Most metadata (EXIF, XMP, ICC, comments) accepted in front of a JPEG's pixels. Cameras write at
 * most 64 KB of EXIF and profiles are rarely past a few hundred KB; beyond this it is padding that
 * decoders would parse for nothing.
 */
export const MAX_JPEG_METADATA_BYTES = 2 * 1024 * 1024;

/** Bytes to read from the start of a file for excessJpegMetadata: one segment past the limit is enough to tell. */
export const JPEG_METADATA_HEAD_BYTES = MAX_JPEG_METADATA_BYTES + 0x10000;

/**
 * How many bytes of metadata a JPEG carries in front of its pixels, when that is more than
 * MAX_JPEG_METADATA_BYTES; undefined when it is within the limit, or the file is not a JPEG.
 * `head` is the file's first JPEG_METADATA_HEAD_BYTES bytes.
 */
export function excessJpegMetadata(head: Buffer): number | undefined {
  const metadata = jpegMetadataBytes(head);
  return metadata > MAX_JPEG_METADATA_BYTES ? metadata : undefined;
}
