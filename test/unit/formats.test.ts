import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type FormatEnum } from 'sharp';
import { PACKAGE_ROOT } from '../../src/config.js';
import {
  ACCEPTED_FORMAT_NAMES,
  acceptedFormat,
  excessJpegMetadata,
  hasImageExtension,
  IMAGE_FORMATS,
  JPEG_METADATA_HEAD_BYTES,
  MAX_JPEG_METADATA_BYTES,
  sniffImageFormat,
  SNIFF_BYTES,
} from '../../src/vision/formats.js';
import { jpegWithHugeExif } from '../hardening/crafted-files.js';

const pixels = () => sharp({ create: { width: 8, height: 8, channels: 3, background: 'teal' } });

describe.each(IMAGE_FORMATS.map((format) => [format.format, format] as const))('%s', (name, format) => {
  let encoded: Buffer;
  beforeAll(async () => {
    encoded = await pixels().toFormat(name as keyof FormatEnum).toBuffer();
  });

  it('is told from its first bytes', () => {
    expect(sniffImageFormat(encoded.subarray(0, SNIFF_BYTES))).toBe(name);
  });

  it("is recognised under sharp's name for it", async () => {
    const meta = await sharp(encoded).metadata();
    expect(acceptedFormat(meta.format, meta.compression)).toBe(format);
  });

  it('is recognised by its extensions, in any case', () => {
    for (const extension of format.extensions) expect(hasImageExtension(`photo.${extension.toUpperCase()}`)).toBe(true);
  });
});

it('refuses what is not an accepted image', async () => {
  expect(sniffImageFormat(Buffer.from('%PDF-1.7\n'))).toBeUndefined();
  expect(sniffImageFormat(Buffer.alloc(0))).toBeUndefined();
  // HEIC is sharp's `heif` too, but not AV1-compressed.
  expect(acceptedFormat('heif', 'hevc')).toBeUndefined();
  expect(acceptedFormat('svg')).toBeUndefined();
  for (const name of ['notes.txt', 'photo', '.jpg', 'photo.jpg.zip']) expect(hasImageExtension(name)).toBe(false);
  expect(ACCEPTED_FORMAT_NAMES).toBe('JPEG, PNG, WebP, GIF, AVIF or TIFF');
});

it('bounds the metadata in front of a JPEG', async () => {
  const plain = await pixels().jpeg().toBuffer();
  expect(excessJpegMetadata(plain)).toBeUndefined();
  const bloated = jpegWithHugeExif(plain, Math.ceil(MAX_JPEG_METADATA_BYTES / 0xffff) + 1);
  expect(excessJpegMetadata(bloated.subarray(0, JPEG_METADATA_HEAD_BYTES))).toBeGreaterThan(MAX_JPEG_METADATA_BYTES);
});

it("offers the accepted formats, and only those, in the gallery's file picker", async () => {
  const html = await readFile(path.join(PACKAGE_ROOT, 'web', 'index.html'), 'utf8');
  const accept = /id="file-input"[^>]*accept="([^"]*)"/s.exec(html)?.[1];
  expect(accept?.split(',')).toEqual(IMAGE_FORMATS.map((format) => format.mimeType));
});
