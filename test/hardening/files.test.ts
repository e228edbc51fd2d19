/**
 * /files/ serves what the store wrote and nothing else: every way of climbing out of the store
 * (plain, encoded, double-encoded, backslashes, absolute paths, symlinks placed inside DATA_DIR),
 * temporary and non-image files are refused with 400 or 404, and never with another file's bytes.
 * Paths are sent verbatim with node:http, since fetch would normalise `..` away.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { photo, startTestServer, type TestServer } from '../support/server.js';
import { rawRequest } from './raw-http.js';

const SECRET = 'SEGCAT-SECRET-OUTSIDE-THE-STORE';
const UPLOAD = `mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id url thumbnailUrl segments { maskUrl } } } }`;
/** An image or segment id no row has. */
const GONE = '0b5e55ed-0000-4000-8000-000000000000';

let server: TestServer;
let outside: string;
let original: string;
let shard: string;
let imageId: string;

beforeAll(async () => {
  server = await startTestServer();
  const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }]);
  original = new URL(response.data.uploadImage.image.url).pathname;
  imageId = response.data.uploadImage.image.id;
  shard = original.split('/')[3]!;
  // Secrets outside the store, under names the store would serve.
  outside = await mkdtemp(path.join(os.tmpdir(), 'segcat-outside-'));
  await writeFile(path.join(outside, 'secret.png'), SECRET);
  await writeFile(path.join(outside, 'secret.jpg'), SECRET);
  const store = server.dataDir;
  await symlink(path.join(outside, 'secret.png'), path.join(store, 'originals', shard, 'link.png'));
  await symlink(outside, path.join(store, 'originals', 'linkdir'));
  await symlink(path.join(outside, 'secret.jpg'), path.join(store, 'thumbnails', 'link.jpg'));
  // Files inside DATA_DIR that the store did not write, or never serves.
  await writeFile(path.join(store, 'tmp', 'upload.png'), SECRET);
  await writeFile(path.join(store, 'originals', shard, `half.png.1234.tmp`), SECRET);
  await writeFile(path.join(store, 'originals', shard, 'notes.txt'), SECRET);
  await writeFile(path.join(store, 'originals', shard, 'page.html'), `<script>${SECRET}</script>`);
  await writeFile(path.join(store, 'originals', shard, 'vector.svg'), `<svg><script>${SECRET}</script></svg>`);
  await writeFile(path.join(store, 'originals', shard, '.hidden.png'), SECRET);
  await writeFile(path.join(store, 'secret.png'), SECRET);
  await mkdir(path.join(store, 'elsewhere'), { recursive: true });
  await writeFile(path.join(store, 'elsewhere', 'secret.png'), SECRET);
  // Files in the store's own layout that no row points to (a deleted image's, or a crash's).
  for (const dir of [`cutouts/${GONE}`, `masks/${GONE}/yolo11n-seg-uint8`, `masks/${imageId}/yolo11n-seg-uint8`, `overlays/${GONE}`]) {
    await mkdir(path.join(store, dir), { recursive: true });
  }
  await writeFile(path.join(store, 'cutouts', GONE, 'white.webp'), SECRET);
  await writeFile(path.join(store, 'masks', GONE, 'yolo11n-seg-uint8', 'mgone.background.png'), SECRET);
  await writeFile(path.join(store, 'masks', imageId, 'yolo11n-seg-uint8', 'mstray.0.png'), SECRET);
  await writeFile(path.join(store, 'overlays', GONE, '1.jpg'), SECRET);
  await writeFile(path.join(store, 'originals', shard, `${shard}${'0'.repeat(62)}.png`), SECRET);
});

afterAll(async () => {
  await server?.stop();
  if (outside) await rm(outside, { recursive: true, force: true });
});

it('serves a stored original as an image, with nosniff and a locked-down CSP', async () => {
  const response = await rawRequest(server.url, { path: original });
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toBe('image/jpeg');
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['content-security-policy']).toBe("default-src 'none'");
  expect(response.body.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
});

it('serves masks and thumbnails only as image types', async () => {
  const image = (await server.graphql(`{ images { edges { node { thumbnailUrl segments { maskUrl } } } } }`)).data.images.edges[0].node;
  for (const url of [image.thumbnailUrl, image.segments[0].maskUrl]) {
    const response = await rawRequest(server.url, { path: new URL(url).pathname });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^image\/(png|webp|jpeg)$/);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  }
});

const ESCAPES: [string, string][] = [
  ['plain ..', '/files/../package.json'],
  ['.. after a root', '/files/originals/../../package.json'],
  ['.. deep', '/files/originals/ab/../../../../../../etc/passwd'],
  ['encoded %2e%2e', '/files/%2e%2e/%2e%2e/package.json'],
  ['encoded %2e%2e in a root', '/files/originals/%2e%2e/%2e%2e/package.json'],
  ['encoded slash %2f', '/files/originals%2f..%2f..%2fpackage.json'],
  ['encoded %2E%2E%2F upper case', '/files/originals%2F%2E%2E%2F%2E%2E%2Fpackage.json'],
  ['double-encoded %252e', '/files/%252e%252e/%252e%252e/package.json'],
  ['double-encoded %252f', '/files/originals%252f..%252f..%252fpackage.json'],
  ['backslashes', '/files/originals\\..\\..\\package.json'],
  ['encoded backslashes %5c', '/files/originals%5c..%5c..%5cpackage.json'],
  ['absolute path', '/files//etc/passwd'],
  ['encoded absolute path', '/files/%2fetc%2fpasswd'],
  ['.. through tmp/', '/files/tmp/../../../../etc/passwd'],
  ['a drive letter', '/files/C:%5cWindows%5cwin.ini'],
  ['NUL byte', '/files/originals/x.png%00.txt'],
  ['overlong UTF-8 dot', '/files/%c0%ae%c0%ae/package.json'],
  ['malformed escape', '/files/originals/%E0%A4%A'],
  ['overlay path climbing out', '/overlays/..%2f..%2fpackage.json'],
  ['overlay with backslash', '/overlays/..\\..\\package.json'],
];

it.each(ESCAPES)('refuses %s', async (_what, requestPath) => {
  const response = await rawRequest(server.url, { path: requestPath });
  expect([400, 404]).toContain(response.status);
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(response.body.toString()).not.toMatch(/"name":\s*"segcat"|root:x:0/);
});

const PLANTED: [string, () => string][] = [
  ['a symlink to a file outside DATA_DIR', () => `/files/originals/${shard}/link.png`],
  ['a file under a symlinked directory', () => '/files/originals/linkdir/secret.png'],
  ['a symlink at a root level', () => '/files/thumbnails/link.jpg'],
  ['an upload in flight in tmp/', () => '/files/tmp/upload.png'],
  ['a half-written .tmp file', () => `/files/originals/${shard}/half.png.1234.tmp`],
  ['a text file', () => `/files/originals/${shard}/notes.txt`],
  ['an HTML file', () => `/files/originals/${shard}/page.html`],
  ['an SVG file', () => `/files/originals/${shard}/vector.svg`],
  ['a hidden file', () => `/files/originals/${shard}/.hidden.png`],
  ['a file at the top of DATA_DIR', () => '/files/secret.png'],
  ['a folder the store does not serve', () => '/files/elsewhere/secret.png'],
  ['the embedded database password', () => '/files/postgres.password'],
  ['a cut-out whose segment is gone', () => `/files/cutouts/${GONE}/white.webp`],
  ['a mask whose image is gone', () => `/files/masks/${GONE}/yolo11n-seg-uint8/mgone.background.png`],
  ['a mask no row of its image points to', () => `/files/masks/${imageId}/yolo11n-seg-uint8/mstray.0.png`],
  ['an overlay whose image is gone', () => `/files/overlays/${GONE}/1.jpg`],
  ['an original no row points to', () => `/files/originals/${shard}/${shard}${'0'.repeat(62)}.png`],
];

it.each(PLANTED)('refuses %s, never sending its bytes', async (_what, requestPath) => {
  const response = await rawRequest(server.url, { path: requestPath() });
  expect([400, 404]).toContain(response.status);
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.body.toString()).not.toContain(SECRET);
});

it('writes nothing through /files/: there is no write path', async () => {
  for (const method of ['PUT', 'POST', 'DELETE', 'PATCH']) {
    const response = await rawRequest(server.url, { method, path: original, body: Buffer.from(SECRET) });
    expect([400, 404, 405]).toContain(response.status);
  }
  const again = await rawRequest(server.url, { path: original });
  expect(again.body.toString()).not.toContain(SECRET);
});
