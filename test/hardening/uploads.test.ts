/**
 * Hostile uploads, each refused with a precise code and a message a person understands, leaving
 * no row, no stored file and no temporary file, with the server still healthy; hostile file names
 * kept only as display names; and the legitimate oddities, which must work end to end.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { photo, startTestServer, type TestServer } from '../support/server.js';
import { gifBomb, jpegWithHugeExif, oddities, pngClaiming, SVG_WITH_SCRIPT } from './crafted-files.js';
import { eventually, listTree, multipartBody, rawRequest } from './raw-http.js';

const MAX_UPLOAD_BYTES = 8 * 1024 * 1024;
const MAX_FILES = 3;
const UPLOAD = `mutation($file: Upload!) {
  uploadImage(input: { file: $file }) { duplicate image { id filename mimeType width height status error segments { label score bbox { x y width height } } } }
}`;
const UPLOAD_MANY = `mutation($files: [Upload!]!) { uploadImages(input: { files: $files }) { results { image { id } } } }`;

let server: TestServer;
let dog: Buffer;

beforeAll(async () => {
  server = await startTestServer({ MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), MAX_FILES_PER_REQUEST: String(MAX_FILES) });
  dog = await photo('dog.jpg');
});

afterAll(async () => {
  await server?.stop();
});

/** What the catalogue holds: rows and stored files. */
async function snapshot() {
  const rows = await server.runtime.database.prisma.image.count();
  return { rows, files: await listTree(server.dataDir) };
}

/** The server is up and the catalogue unchanged since `before`, with nothing in tmp/. */
async function expectNothingLeft(before: Awaited<ReturnType<typeof snapshot>>) {
  // The request that fails may return before its temporary file is removed; never after it is kept.
  await eventually(async () => (await readdir(path.join(server.dataDir, 'tmp'))).length === 0, 'tmp/ is empty');
  expect(await snapshot()).toEqual(before);
  const health = await fetch(`${server.url}/health`);
  expect(health.status).toBe(200);
}

/** An image made from dog.jpg that no other test uploads (a distinct crop). */
async function distinctJpeg(seed: number): Promise<Buffer> {
  return sharp(dog).extract({ left: seed, top: seed, width: 640, height: 480 }).jpeg({ quality: 80 }).toBuffer();
}

describe('hostile uploads are refused and leave nothing behind', () => {
  const truncated = () => dog.subarray(0, Math.floor(dog.length / 2));
  const cases: [string, () => Buffer | Promise<Buffer>, string, RegExp][] = [
    ['a truncated JPEG', truncated, 'BAD_USER_INPUT', /corrupt or truncated jpeg/],
    ['an empty file', () => Buffer.alloc(0), 'BAD_USER_INPUT', /is empty \(0 bytes\)/],
    ['text named .jpg', () => Buffer.from('this is not a photo\n'.repeat(50)), 'BAD_USER_INPUT', /not an image/],
    ['random bytes', () => randomBytes(64 * 1024), 'BAD_USER_INPUT', /not an image/],
    ['a file over MAX_UPLOAD_BYTES', () => Buffer.concat([dog, Buffer.alloc(MAX_UPLOAD_BYTES)]), 'PAYLOAD_TOO_LARGE', /larger than the upload limit of 8 MB \(MAX_UPLOAD_BYTES\)/],
    ['a PNG whose header claims 60000×60000', () => pngClaiming(60_000, 60_000), 'BAD_USER_INPUT', /60000x60000 is 3600000000 pixels, more than the limit/],
    ['an SVG with a script', () => SVG_WITH_SCRIPT, 'BAD_USER_INPUT', /svg is not supported; send JPEG, PNG/],
    ['a GIF bomb (one frame of 65535×65535)', () => gifBomb(65_535, 65_535, 1), 'BAD_USER_INPUT', /65535x65535 is \d+ pixels, more than the limit/],
    ['a GIF bomb (many 1000×1000 frames)', () => gifBomb(1000, 1000, 60), 'BAD_USER_INPUT', /1000x1000x60 frames is 60000000 pixels/],
    ['a JPEG with huge EXIF (4 MB of APP1 segments)', () => jpegWithHugeExif(dog, 64), 'BAD_USER_INPUT', /MB of metadata .* more than the limit/],
  ];

  it.each(cases)('%s', async (_name, make, code, message) => {
    const before = await snapshot();
    const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'upload.jpg', data: await make() }]);
    expect(response.data).toBeFalsy();
    expect(response.errors?.[0]?.extensions?.code).toBe(code);
    expect(response.errors?.[0]?.message).toMatch(message);
    // The message names the client's file, never a path on the server.
    expect(response.errors?.[0]?.message).not.toContain(server.dataDir);
    await expectNothingLeft(before);
  });

  it('refuses too many files in one request with PAYLOAD_TOO_LARGE naming the limit', async () => {
    const before = await snapshot();
    const files = await Promise.all(
      Array.from({ length: MAX_FILES + 1 }, async (_, i) => ({ variable: `files.${i}`, name: `${i}.jpg`, data: await distinctJpeg(40 + i) })),
    );
    const response = await server.upload(UPLOAD_MANY, files);
    expect(response.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(response.errors?.[0]?.message).toMatch(/at most 3 files.*MAX_FILES_PER_REQUEST/);
    await expectNothingLeft(before);
  });

  it('refuses a batch with one bad file as a whole, naming it', async () => {
    const before = await snapshot();
    const response = await server.upload(UPLOAD_MANY, [
      { variable: 'files.0', name: 'good.jpg', data: await distinctJpeg(50) },
      { variable: 'files.1', name: 'bad.jpg', data: truncated() },
    ]);
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toMatch(/nothing was added: "bad.jpg": corrupt/);
    await expectNothingLeft(before);
  });

  it('answers a multipart body that ends early with BAD_USER_INPUT', async () => {
    const before = await snapshot();
    const { body, contentType } = multipartBody(UPLOAD, { file: null }, [
      { field: '0', variable: 'file', filename: 'half.jpg', data: await distinctJpeg(60) },
    ]);
    const response = await rawRequest(server.url, {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': contentType, 'apollo-require-preflight': 'true' },
      body: body.subarray(0, Math.floor(body.length / 2)),
    });
    const result = JSON.parse(response.body.toString());
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/interrupted before the whole file arrived|unexpected end/i);
    await expectNothingLeft(before);
  });

  it('cleans up after a client that disconnects halfway through a file', async () => {
    const before = await snapshot();
    const { body, contentType } = multipartBody(UPLOAD, { file: null }, [
      { field: '0', variable: 'file', filename: 'gone.jpg', data: await distinctJpeg(70) },
    ]);
    const { hostname, port } = new URL(server.url);
    const socket = net.connect(Number(port), hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: ${contentType}\r\n` +
        `Apollo-Require-Preflight: true\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, Math.floor(body.length / 2)));
    // Only once the server is receiving the file does the disconnect test its cleanup.
    await eventually(async () => (await readdir(path.join(server.dataDir, 'tmp'))).length > 0, 'the upload reached tmp/');
    socket.destroy();
    await expectNothingLeft(before);
  });
});

describe('hostile file names are display names only', () => {
  const marker = `segcat-hardening-${process.pid}-${Date.now()}`;
  const names: [string, string, string][] = [
    ['a path climbing out of the store', `../../../../tmp/${marker}.png`, `${marker}.png`],
    ['a Windows path', `..\\..\\${marker}\\evil.png`, 'evil.png'],
    ['a NUL byte', `safe\0${marker}.png`, `safe${marker}.png`],
    ['control characters and a newline', `bell\x07esc\x1b[31mred\x7f\r\nline.jpg`, 'bellesc[31mredline.jpg'],
    ['only dots', '..', 'upload'],
  ];

  it.each(names)('%s', async (_what, filename, shown) => {
    const seed = 10 + names.findIndex((entry) => entry[1] === filename);
    const result = await postRawUpload({ filename, encoded: true, data: await distinctJpeg(seed) });
    expect(result.errors).toBeUndefined();
    const image = result.data.uploadImage.image;
    expect(image.status).toBe('DONE');
    expect(image.filename).toBe(shown);
    expect(existsSync(`/tmp/${marker}.png`)).toBe(false);
    // Every stored file lives under the store's own roots, in folders named by hash or id; the mask
    // names carry the recipe's <root>, reduced to letters, digits, `_` and `-`. (catalogue.json is
    // the store's own marker.)
    for (const file of (await listTree(server.dataDir)).filter((file) => file !== 'catalogue.json')) {
      expect(file).toMatch(/^(originals|thumbnails|masks)\/[0-9a-f-]+\/([\w-]+\/)?[\w.-]+$/);
      expect(file).not.toMatch(/\.\.|[\0-\x1f\x7f\\]/);
    }
  });

  it('refuses raw control characters in the part header as a malformed request, keeping nothing', async () => {
    const before = await snapshot();
    const result = await postRawUpload({ filename: `nul\0and\x07bell.png`, data: await distinctJpeg(30) });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/multipart body could not be read: Malformed part header/);
    await expectNothingLeft(before);
  });
});

describe('legitimate oddities work end to end', () => {
  let made: Awaited<ReturnType<typeof oddities>>;
  let upright: { width: number; height: number; segments: { label: string; bbox: Record<string, number> }[] };

  beforeAll(async () => {
    made = await oddities(dog);
    // The same picture turned physically, to compare the EXIF-rotated upload's boxes with.
    const turned = await sharp(dog).rotate(90).jpeg().toBuffer();
    upright = (await server.upload(UPLOAD, [{ variable: 'file', name: 'turned.jpg', data: turned }])).data.uploadImage.image;
  });

  it.each(['cmyk.jpg', 'deep.png', 'grey.jpg', 'rotated.jpg', 'animated.gif', 'photo.webp', 'photo.avif', 'photo.tiff'])('%s', async (name) => {
    const odd = made.find((entry) => entry.name === name)!;
    const response = await server.upload(UPLOAD, [{ variable: 'file', name, data: odd.data }]);
    expect(response.errors).toBeUndefined();
    const image = response.data.uploadImage.image;
    expect(image).toMatchObject({ status: 'DONE', error: null, mimeType: odd.mimeType });
    // dog.jpg is 768×576; an animated GIF is one frame high, an EXIF-rotated JPEG stands upright.
    expect([image.width, image.height]).toEqual(odd.rotated ? [576, 768] : [768, 576]);
    expect(image.segments.length).toBeGreaterThan(0);
    if (odd.rotated) {
      // Boxes are in the upright frame: the same as those found in the physically turned picture.
      const top = (segments: typeof upright.segments) => segments[0]!;
      const [a, b] = [top(image.segments), top(upright.segments)];
      expect(a.label).toBe(b.label);
      for (const key of ['x', 'y', 'width', 'height']) expect(Math.abs(a.bbox[key]! - b.bbox[key]!)).toBeLessThanOrEqual(8);
    } else {
      expect(image.segments.map((s: { label: string }) => s.label)).toContain('dog');
    }
  });
});

/** Uploads one file as a hand-built multipart body, so file names reach the server byte for byte. */
async function postRawUpload(file: { filename: string; encoded?: boolean; data: Buffer }) {
  const { body, contentType } = multipartBody(UPLOAD, { file: null }, [{ field: '0', variable: 'file', ...file }]);
  const response = await rawRequest(server.url, {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': contentType, 'apollo-require-preflight': 'true' },
    body,
  });
  return JSON.parse(response.body.toString());
}
