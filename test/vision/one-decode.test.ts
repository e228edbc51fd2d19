/**
 * The throughput path: an image is decoded once on its way in (check, thumbnail and model input),
 * masks are encoded without libvips, and the masks of an image are written in one durable batch.
 * Each shortcut must give exactly what the slow path gives.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jest } from '@jest/globals';
import sharp from 'sharp';
import { writeAllAtomically } from '../../src/storage/atomic-write.js';
import { computeLetterbox } from '../../src/vision/letterbox.js';
import { encodeBoxMaskPng, encodeFullMaskPng } from '../../src/vision/mask-png.js';
import { PreparedInputs } from '../../src/vision/prepared-inputs.js';
import { acceptImage, decodeLetterboxed, makeThumbnail, readBoxMask } from '../../src/vision/raster.js';
import type { Segmenter } from '../../src/vision/segmenter.js';
import { visionEngine } from '../../src/vision/vision-engine.js';
import { loadTestSegmenter, photo } from '../support/vision.js';

const LIMIT = 50_000_000;
const planFor = (width: number, height: number) => computeLetterbox(width, height, 640, 480);

describe('acceptImage with a model plan', () => {
  it.each(['dog', 'eagle', 'giraffe', 'kite', 'scream'])('makes the same model input as decodeLetterboxed (%s)', async (name) => {
    const accepted = await acceptImage(photo(name), { maxPixels: LIMIT, planFor });
    const decoded = await decodeLetterboxed(photo(name), planFor, LIMIT);
    expect(accepted.letterboxed!.letterbox).toEqual(decoded.letterbox);
    expect(accepted.letterboxed!.rgb.equals(decoded.rgb)).toBe(true);
    // And both are what one plain sharp pipeline makes, colour profile applied: skipping an sRGB
    // profile's transform and decoding in two steps change no pixel.
    const lb = decoded.letterbox;
    const grey = { r: 114, g: 114, b: 114 };
    const plain = await sharp(photo(name), { autoOrient: true })
      .flatten({ background: grey })
      .resize(lb.resizedWidth, lb.resizedHeight, { fit: 'fill', kernel: 'linear' })
      .extend({ top: lb.padTop, bottom: lb.padBottom, left: lb.padLeft, right: lb.padRight, background: grey })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer();
    expect(decoded.rgb.equals(plain)).toBe(true);
    // The thumbnail is the one makeThumbnail makes later (same size), from the same decode.
    const later = await makeThumbnail(photo(name));
    expect([accepted.thumbnail.width, accepted.thumbnail.height]).toEqual([later.width, later.height]);
    expect(await sharp(accepted.thumbnail.data).metadata()).toMatchObject({ format: 'webp', width: later.width, height: later.height });
  });

  it('letterboxes a transparent PNG onto the padding grey, keeps its alpha in the thumbnail, and upscales a small image', async () => {
    const small = await sharp({ create: { width: 200, height: 100, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const accepted = await acceptImage(small, { maxPixels: LIMIT, planFor });
    const decoded = await decodeLetterboxed(small, planFor, LIMIT);
    expect(accepted.letterboxed!.rgb.equals(decoded.rgb)).toBe(true);
    expect(accepted.letterboxed!.letterbox).toMatchObject({ resizedWidth: 640, resizedHeight: 320 });
    // Fully transparent: every input pixel is the padding grey.
    expect(accepted.letterboxed!.rgb.every((value) => value === 114)).toBe(true);
    expect([accepted.thumbnail.width, accepted.thumbnail.height]).toEqual([200, 100]);
    expect((await sharp(accepted.thumbnail.data).metadata()).hasAlpha).toBe(true);
  });

  it('still refuses a truncated JPEG', async () => {
    const bytes = await readFile(photo('dog'));
    await expect(acceptImage(bytes.subarray(0, Math.floor(bytes.length / 2)), { maxPixels: LIMIT, planFor })).rejects.toMatchObject({ reason: 'CORRUPT' });
  });
});

describe('the vision engine hands the checked input to segment()', () => {
  let segmenter: Segmenter;
  beforeAll(async () => {
    segmenter = await loadTestSegmenter();
  });
  afterAll(() => segmenter.close());

  it('gives the same segments with the held input as from the file, and holds each input once', async () => {
    const engine = visionEngine(segmenter, { maxPixels: LIMIT });
    const fromFile = await engine.segment(photo('horses'));
    await engine.acceptImage(photo('horses'), { key: 'horses-sha' });
    const spy = jest.spyOn(segmenter, 'segment');
    const reads: string[] = [];
    const read = async () => {
      reads.push('read');
      return '/no/such/file.jpg';
    };
    const fromHeld = await engine.segment(read, { key: 'horses-sha' });
    expect(typeof spy.mock.calls[0]![0]).toBe('object'); // the held input, not the (missing) file
    expect(reads).toEqual([]); // and the original was never read
    const summary = (result: typeof fromFile) => result.segments.map((s) => [s.label, s.score.toFixed(4), s.mask.box, s.area]);
    expect(summary(fromHeld)).toEqual(summary(fromFile));
    // Taken once: the next call with that key reads the file, which here does not exist.
    await expect(engine.segment(read, { key: 'horses-sha' })).rejects.toThrow(/no such file/);
    expect(reads).toEqual(['read']);
    spy.mockRestore();
  });
});

describe('PreparedInputs', () => {
  const input = (n: number) => ({ rgb: Buffer.alloc(3, n), letterbox: planFor(4, 3) });

  it('refuses new entries when full, rather than evicting the next ones to be used', () => {
    const held = new PreparedInputs({ capacity: 2, maxAgeMs: 1000 });
    expect(held.put('a', input(1), 0)).toBe(true);
    expect(held.put('b', input(2), 0)).toBe(true);
    expect(held.put('c', input(3), 0)).toBe(false);
    expect(held.take('a', 1)?.rgb[0]).toBe(1);
    expect(held.take('a', 1)).toBeUndefined();
    expect(held.put('c', input(3), 1)).toBe(true);
    expect(held.size).toBe(2);
  });

  it('drops entries nobody claimed in time', () => {
    const held = new PreparedInputs({ capacity: 2, maxAgeMs: 1000 });
    held.put('a', input(1), 0);
    held.put('b', input(2), 0);
    expect(held.take('a', 1001)).toBeUndefined();
    // A put after the deadline clears the stale entries, making room.
    expect(held.put('c', input(3), 2000)).toBe(true);
    expect(held.put('d', input(4), 2000)).toBe(true);
    expect(held.take('b', 2000)).toBeUndefined();
  });
});

describe('mask PNGs', () => {
  it('are one-channel 8-bit PNGs, black outside the box, with the mask inside it', async () => {
    const mask = { box: { x: 3, y: 2, width: 4, height: 3 }, data: Uint8Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 255 : 0)) };
    const png = await encodeBoxMaskPng(mask, 10, 8);
    const { data, info } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 10, height: 8, channels: 1 });
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', depth: 'uchar', channels: 1, space: 'b-w' });
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 10; x++) {
        const inside = x >= 3 && x < 7 && y >= 2 && y < 5;
        expect(data[y * 10 + x]).toBe(inside ? mask.data[(y - 2) * 4 + (x - 3)] : 0);
      }
    }
    expect(Buffer.from((await readBoxMask(png, mask.box)).data).equals(Buffer.from(mask.data))).toBe(true);
  });

  it('leave nothing of one mask in the next (their buffers are reused)', async () => {
    const full = (value: number) => ({ box: { x: 0, y: 0, width: 6, height: 4 }, data: new Uint8Array(24).fill(value) });
    await Promise.all([encodeBoxMaskPng(full(255), 6, 4), encodeFullMaskPng(new Uint8Array(24).fill(255), 6, 4)]);
    const corner = { box: { x: 5, y: 3, width: 1, height: 1 }, data: Uint8Array.of(255) };
    const { data } = await sharp(await encodeBoxMaskPng(corner, 6, 4)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect([...data]).toEqual([...new Array(23).fill(0), 255]);
  });

  it('encode full-image masks, and refuse a box outside the image', async () => {
    const full = Uint8Array.from({ length: 6 }, (_, i) => (i < 3 ? 255 : 0));
    const { data } = await sharp(await encodeFullMaskPng(full, 3, 2)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect([...data]).toEqual([...full]);
    await expect(encodeBoxMaskPng({ box: { x: 8, y: 0, width: 4, height: 1 }, data: new Uint8Array(4) }, 10, 8)).rejects.toThrow(RangeError);
    await expect(encodeFullMaskPng(full, 4, 2)).rejects.toThrow(RangeError);
  });
});

describe('writeAllAtomically', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-write-all-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes every file, in several folders, and leaves no temporary file', async () => {
    await writeAllAtomically([
      { target: path.join(dir, 'a', 'one.png'), data: Buffer.from('one') },
      { target: path.join(dir, 'a', 'two.png'), data: Buffer.from('two') },
      { target: path.join(dir, 'b', 'three.png'), data: Buffer.from('three') },
    ]);
    expect((await readdir(path.join(dir, 'a'))).sort()).toEqual(['one.png', 'two.png']);
    expect(await readFile(path.join(dir, 'b', 'three.png'), 'utf8')).toBe('three');
  });

  it('fails when one file cannot be written, after the others ended, and leaves no temporary file', async () => {
    // A folder where a file must go: its temporary file is written, but the rename fails.
    await mkdir(path.join(dir, 'taken'));
    await writeFile(path.join(dir, 'taken', 'inside'), 'x');
    await expect(
      writeAllAtomically([
        { target: path.join(dir, 'ok.png'), data: Buffer.from('ok') },
        { target: path.join(dir, 'taken'), data: Buffer.from('no') },
      ]),
    ).rejects.toThrow();
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(await readdir(path.join(dir, 'taken'))).toEqual(['inside']);
  });
});
