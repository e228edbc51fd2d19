/**
 * Multipart uploads before GraphQL runs: the key is checked before any file part is read, files
 * are spooled inside DATA_DIR (where start-up clean-up finds what a kill -9 leaves), and the bytes
 * received at once are capped per server (503 with Retry-After above the cap).
 */
import { randomBytes } from 'node:crypto';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventually, multipartBody } from './raw-http.js';

const UPLOAD = 'mutation($file: Upload!) { uploadImage(input: { file: $file, wait: false }) { image { id } } }';
const MB = 1024 * 1024;

let guarded: TestServer;
let small: TestServer;

beforeAll(async () => {
  guarded = await startTestServer({ SEGCAT_API_KEY: 'the-key', SEGCAT_EMBEDDED_WORKER: 'false' });
  small = await startTestServer({ MAX_CONCURRENT_UPLOAD_BYTES: String(2 * MB), SEGCAT_EMBEDDED_WORKER: 'false' });
});

afterAll(async () => {
  await guarded?.stop();
  await small?.stop();
});

/** A multipart upload whose headers declare `bytes` of file, of which only the first `sent` are sent. */
function partialUpload(server: TestServer, bytes: number, sent: number, headers: Record<string, string> = {}) {
  const { body, contentType } = multipartBody(UPLOAD, { file: null }, [{ field: '0', variable: 'file', filename: 'big.jpg', data: randomBytes(bytes) }]);
  const { hostname, port } = new URL(server.url);
  const socket = net.connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n` +
      `Apollo-Require-Preflight: true\r\n${extra}\r\n`,
  );
  socket.write(body.subarray(0, sent));
  return {
    socket,
    response: () => received,
    finish: () => new Promise<void>((resolve) => socket.end(body.subarray(sent), () => resolve())),
  };
}

const spoolFiles = async (dir: string) => (await readdir(dir).catch(() => [])).filter((name) => name.startsWith('capacitor-'));

it('refuses an upload without the key before reading the file, and writes nothing anywhere', async () => {
  const systemBefore = await spoolFiles(os.tmpdir());
  const upload = partialUpload(guarded, 25 * MB, 64 * 1024);
  await eventually(async () => upload.response().length > 0, 'an answer before the body was sent');
  expect(upload.response()).toMatch(/^HTTP\/1\.1 401/);
  expect(upload.response()).toMatch(/"code":"UNAUTHENTICATED"/);
  upload.socket.destroy();
  expect(await spoolFiles(path.join(guarded.dataDir, 'tmp'))).toEqual([]);
  expect((await spoolFiles(os.tmpdir())).filter((name) => !systemBefore.includes(name))).toEqual([]);
});

it('spools files into DATA_DIR/tmp, not the system temp folder, and releases them', async () => {
  const systemBefore = await spoolFiles(os.tmpdir());
  const upload = partialUpload(guarded, 4 * MB, MB, { Authorization: 'Bearer the-key' });
  const spool = path.join(guarded.dataDir, 'tmp');
  await eventually(async () => (await spoolFiles(spool)).length === 1, 'a spool file in DATA_DIR/tmp');
  expect((await spoolFiles(os.tmpdir())).filter((name) => !systemBefore.includes(name))).toEqual([]);
  upload.socket.destroy();
  await eventually(async () => (await spoolFiles(spool)).length === 0, 'the spool file released once the client went away');
});

it('answers 503 with Retry-After when the server already holds MAX_CONCURRENT_UPLOAD_BYTES, then takes uploads again', async () => {
  const first = partialUpload(small, 1.5 * MB, 64 * 1024);
  await eventually(async () => (await spoolFiles(path.join(small.dataDir, 'tmp'))).length === 1, 'the first upload being received');
  const second = partialUpload(small, 1.5 * MB, 64 * 1024);
  await eventually(async () => second.response().length > 0, 'an answer to the second upload');
  expect(second.response()).toMatch(/^HTTP\/1\.1 503/);
  expect(second.response()).toMatch(/\r\nRetry-After: 5\r\n/i);
  expect(second.response()).toMatch(/MAX_CONCURRENT_UPLOAD_BYTES/);
  second.socket.destroy();
  first.socket.destroy();
  const third = partialUpload(small, 1.5 * MB, 64 * 1024);
  await eventually(async () => (await spoolFiles(path.join(small.dataDir, 'tmp'))).length >= 1, 'the third upload being received');
  expect(third.response()).toBe('');
  third.socket.destroy();
});

it('removes spool files a killed server left in DATA_DIR/tmp when the next one starts', async () => {
  const left = path.join(small.dataDir, 'tmp', `capacitor-${randomBytes(16).toString('hex')}.tmp`);
  await writeFile(left, randomBytes(1024));
  const anHourAgo = new Date(Date.now() - 60 * 60 * 1000);
  await utimes(left, anHourAgo, anHourAgo);
  const restarted = await startTestServer({ SEGCAT_EMBEDDED_WORKER: 'false' }, { sharing: small });
  try {
    expect(await spoolFiles(path.join(small.dataDir, 'tmp'))).not.toContain(path.basename(left));
  } finally {
    await restarted.runtime.close();
  }
});
