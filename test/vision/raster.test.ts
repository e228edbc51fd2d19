import { deflateSync, crc32 } from 'node:zlib';
import sharp, { type Region, type Sharp } from 'sharp';
import { readFile } from 'node:fs/promises';
import {
  encodeMaskPng, extractCutout, extractCutouts, InvalidImageError, makeThumbnail, readBoxMask, renderOverlay, validateImage,
} from '../../src/vision/raster.js';
import type { Segmenter } from '../../src/vision/segmenter.js';
import type { DetectedSegment } from '../../src/vision/types.js';
import { loadTestSegmenter, photo } from '../support/vision.js';

const LIMIT = { maxPixels: 50_000_000 };

/** A PNG whose header claims `width`×`height`, with a correct CRC and a token of pixel data. */
function forgedPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(100))), chunk('IEND', Buffer.alloc(0))]);
}

async function reason(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidImageError);
  return (error as InvalidImageError).reason;
}

describe('validateImage', () => {
  it('accepts the raster formats and reports format, MIME type and size', async () => {
    const jpeg = await readFile(photo('dog'));
    expect(await validateImage(photo('dog'), LIMIT)).toEqual({ format: 'jpeg', mimeType: 'image/jpeg', width: 768, height: 576 });
    const small = sharp(jpeg).resize(64);
    for (const [format, mimeType, bytes] of [
      ['png', 'image/png', await small.clone().png().toBuffer()],
      ['webp', 'image/webp', await small.clone().webp().toBuffer()],
      ['gif', 'image/gif', await small.clone().gif().toBuffer()],
      ['avif', 'image/avif', await small.clone().avif().toBuffer()],
      ['tiff', 'image/tiff', await small.clone().tiff().toBuffer()],
    ] as const) {
      expect(await validateImage(bytes, LIMIT)).toEqual({ format, mimeType, width: 64, height: 48 });
    }
  });

  it('reports the size as displayed when EXIF says the photo is rotated', async () => {
    const rotated = await sharp(photo('dog')).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    expect(await validateImage(rotated, LIMIT)).toMatchObject({ width: 576, height: 768 });
  });

  it('refuses SVG, non-images, and truncated files, saying which', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    expect(await reason(validateImage(svg, LIMIT))).toBe('UNSUPPORTED_FORMAT');
    expect(await reason(validateImage(Buffer.from('hello, not a picture'), LIMIT))).toBe('NOT_AN_IMAGE');
    const jpeg = await readFile(photo('dog'));
    expect(await reason(validateImage(jpeg.subarray(0, jpeg.length / 2), LIMIT))).toBe('CORRUPT');
    const png = await sharp(jpeg).png().toBuffer();
    expect(await reason(validateImage(png.subarray(0, png.length / 2), LIMIT))).toBe('CORRUPT');
    await expect(validateImage('/nonexistent/photo.jpg', LIMIT)).rejects.toThrow(/photo\.jpg: no such file/);
  });

  it('refuses too many pixels from the header, before decoding', async () => {
    const error = await validateImage(forgedPng(60000, 60000), LIMIT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as InvalidImageError).reason).toBe('TOO_MANY_PIXELS');
    expect((error as Error).message).toMatch(/60000x60000/);
  });

  it('counts every frame of an animated GIF', async () => {
    const frame = (colour: string) => sharp({ create: { width: 100, height: 100, channels: 3, background: colour } }).png().toBuffer();
    const [red, blue] = await Promise.all([frame('#f00'), frame('#00f')]);
    const tenFrames = await sharp(Array.from({ length: 10 }, (_, i) => (i % 2 ? blue : red)), { join: { animated: true } }).gif().toBuffer();
    expect(await reason(validateImage(tenFrames, { maxPixels: 50_000 }))).toBe('TOO_MANY_PIXELS');
    expect(await validateImage(tenFrames, { maxPixels: 100_000 })).toEqual({ format: 'gif', mimeType: 'image/gif', width: 100, height: 100 });
  });
});

/** Mean of each channel of an encoded picture, over `region` or all of it. */
async function channelMeans(image: string | Buffer, region?: Region): Promise<number[]> {
  const pipeline = region ? sharp(image).extract(region) : sharp(image);
  const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const sums = new Array<number>(info.channels).fill(0);
  for (let i = 0; i < data.length; i++) sums[i % info.channels]! += data[i]!;
  return sums.map((sum) => sum / (info.width * info.height));
}

describe('cut-out colours', () => {
  it("keeps the picture's colours, converting a wide-gamut (Display P3) photo to sRGB", async () => {
    // Saturated red and green, stored in P3: other numbers for the same colours, and a profile saying so.
    const half = (background: { r: number; g: number; b: number }) =>
      sharp({ create: { width: 32, height: 48, channels: 3, background } }).png().toBuffer();
    const srgb = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#000' } })
      .composite([{ input: await half({ r: 220, g: 30, b: 30 }), left: 0, top: 0 }, { input: await half({ r: 30, g: 160, b: 60 }), left: 32, top: 0 }])
      .png()
      .toBuffer();
    const p3 = await sharp(srgb).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer();
    const mask = { box: { x: 8, y: 8, width: 48, height: 32 }, data: new Uint8Array(48 * 32).fill(255) };
    const cutout = (await extractCutout(p3, mask, { background: 'white', format: 'png' })).data;
    const red = { left: 4, top: 4, width: 16, height: 24 };
    const green = { left: 28, top: 4, width: 16, height: 24 };
    const near = (means: number[], expected: number[]) => means.every((mean, i) => Math.abs(mean - expected[i]!) < 4);
    expect(near(await channelMeans(cutout, red), [220, 30, 30])).toBe(true);
    expect(near(await channelMeans(cutout, green), [30, 160, 60])).toBe(true);
    // The numbers as stored are far off: the test fails if the profile is ignored.
    const stored = await sharp(p3, { ignoreIcc: true }).extract({ left: 8, top: 8, width: 48, height: 32 }).png().toBuffer();
    expect(near(await channelMeans(stored, red), [220, 30, 30])).toBe(false);
    expect(near(await channelMeans(stored, green), [30, 160, 60])).toBe(false);
  });
});

describe('raster work on real segments', () => {
  let segmenter: Segmenter;
  let dog: DetectedSegment;
  beforeAll(async () => {
    segmenter = await loadTestSegmenter();
    dog = (await segmenter.segment(photo('dog'))).segments.find((s) => s.label === 'dog')!;
  });
  afterAll(() => segmenter?.close());

  it('reads a mask PNG back into the same BoxMask', async () => {
    const png = await encodeMaskPng(dog.mask, 768, 576);
    const back = await readBoxMask(png, dog.mask.box);
    expect(back.box).toEqual(dog.mask.box);
    expect(Buffer.from(back.data).equals(Buffer.from(dog.mask.data))).toBe(true);
  });

  it('cuts out a transparent object: opaque where the mask is white, clear elsewhere, box-sized', async () => {
    for (const format of ['png', 'webp'] as const) {
      const cutout = await extractCutout(photo('dog'), dog.mask, { background: 'transparent', format });
      expect([cutout.width, cutout.height]).toEqual([dog.mask.box.width, dog.mask.box.height]);
      const meta = await sharp(cutout.data).metadata();
      expect(meta).toMatchObject({ format, width: dog.mask.box.width, height: dog.mask.box.height, hasAlpha: true });
      const alpha = await sharp(cutout.data).extractChannel(3).raw().toBuffer();
      let wrong = 0;
      for (let i = 0; i < alpha.length; i++) if (alpha[i] !== dog.mask.data[i]) wrong++;
      expect(wrong).toBe(0);
    }
  });

  it('cuts several objects from one decode, pixel for pixel as one at a time', async () => {
    const { segments } = await segmenter.segment(photo('dog'));
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const masks = segments.map((s) => s.mask);
    const together = await extractCutouts(photo('dog'), masks, { background: 'transparent', format: 'png' });
    for (const [i, mask] of masks.entries()) {
      const alone = await extractCutout(photo('dog'), mask, { background: 'transparent', format: 'png' });
      const [a, b] = await Promise.all([alone, together[i]!].map((c) => sharp(c.data).raw().toBuffer()));
      expect(a!.equals(b!)).toBe(true);
    }
  });

  it("reproduces the recipe's white background", async () => {
    const cutout = await extractCutout(photo('dog'), dog.mask, { background: 'white', format: 'png' });
    const { data, info } = await sharp(cutout.data).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    let notWhite = 0;
    let whiteInside = 0;
    for (let i = 0; i < dog.mask.data.length; i++) {
      const white = data[i * 3] === 255 && data[i * 3 + 1] === 255 && data[i * 3 + 2] === 255;
      if (dog.mask.data[i] === 0 && !white) notWhite++;
      if (dog.mask.data[i] === 255 && white) whiteInside++;
    }
    expect(notWhite).toBe(0);
    expect(whiteInside).toBeLessThan(dog.area / 100);
    await expect(extractCutout(photo('dog'), dog.mask, { background: 'transparent', format: 'jpeg' })).rejects.toThrow(/JPEG/);
  });

  it('cuts the object from the picture as displayed when EXIF rotates it', async () => {
    // Pixels stored turned a quarter left, with EXIF telling viewers to turn them back.
    const stored = await sharp(photo('dog')).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const result = await segmenter.segment(stored);
    expect([result.width, result.height]).toEqual([768, 576]);
    const rotatedDog = result.segments.find((s) => s.label === 'dog')!;
    expect(Math.abs(rotatedDog.mask.box.x - dog.mask.box.x)).toBeLessThanOrEqual(8);
    expect(Math.abs(rotatedDog.mask.box.y - dog.mask.box.y)).toBeLessThanOrEqual(8);
    const straight = await channelMeans((await extractCutout(photo('dog'), dog.mask, { background: 'white', format: 'png' })).data);
    const turned = await channelMeans((await extractCutout(stored, dog.mask, { background: 'white', format: 'png' })).data);
    expect(Math.abs(turned[0]! - straight[0]!)).toBeLessThan(3);
    // Without orientation, the same box would cut a different part of the stored pixels.
    const unrotated = await sharp(photo('dog')).rotate(-90).jpeg({ quality: 95 }).toBuffer();
    const wrong = await channelMeans((await extractCutout(unrotated, { ...dog.mask, box: { ...dog.mask.box, x: 300 } }, { background: 'white', format: 'png' })).data);
    expect(Math.abs(wrong[0]! - straight[0]!)).toBeGreaterThan(3);
  });

  it.each([
    ['greyscale', (s: Sharp) => s.greyscale().png()],
    ['alpha', (s: Sharp) => s.ensureAlpha(0.8).png()],
    ['palette', (s: Sharp) => s.png({ palette: true, colours: 64 })],
    ['CMYK', (s: Sharp) => s.toColourspace('cmyk').jpeg()],
    ['16-bit', (s: Sharp) => s.toColourspace('rgb16').png()],
  ])('finds the dog in a %s version of the photo', async (_, convert) => {
    const bytes = await convert(sharp(photo('dog'))).toBuffer();
    const result = await segmenter.segment(bytes);
    expect([result.width, result.height]).toEqual([768, 576]);
    expect(result.segments.some((s) => s.label === 'dog' && s.score >= 0.5)).toBe(true);
  });

  it('refuses a non-image by name', async () => {
    await expect(segmenter.segment(Buffer.from('plain text'))).rejects.toBeInstanceOf(InvalidImageError);
  });

  it('draws an overlay at the picture size (scaled to maxSide) with the masks tinted', async () => {
    const overlay = await renderOverlay(photo('dog'), [{ label: dog.label, score: dog.score, mask: dog.mask }]);
    expect(await sharp(overlay).metadata()).toMatchObject({ format: 'jpeg', width: 768, height: 576 });
    const small = await renderOverlay(photo('dog'), [dog], { maxSide: 384, format: 'webp' });
    expect(await sharp(small).metadata()).toMatchObject({ format: 'webp', width: 384, height: 288 });
    // The dog's mask region changes colour; a corner far from every segment does not.
    const region = { left: dog.mask.box.x + 40, top: dog.mask.box.y + 100, width: 60, height: 60 };
    const corner = { left: 700, top: 500, width: 40, height: 40 };
    const shift = async (r: Region) => {
      const [before, after] = await Promise.all([channelMeans(photo('dog'), r), channelMeans(overlay, r)]);
      return Math.max(...before.map((mean, i) => Math.abs(mean - after[i]!)));
    };
    expect(await shift(region)).toBeGreaterThan(20);
    expect(await shift(corner)).toBeLessThan(5);
  });

  it('makes a WebP thumbnail about 320 px on its long side', async () => {
    const thumb = await makeThumbnail(photo('kite'));
    expect([thumb.width, thumb.height]).toEqual([320, 213]);
    expect((await sharp(thumb.data).metadata()).format).toBe('webp');
  });
});
