/**
 * Access with both keys set: SEGCAT_API_KEY for every mutation, SEGCAT_READ_KEY for queries,
 * /files/ and /overlays/; and the browser session (POST /session) that lets <img> tags load files.
 */
import { photo, startTestServer, type TestServer } from '../support/server.js';
import { rawRequest } from './raw-http.js';

const API_KEY = 'hardening-api-key-0123456789';
const READ_KEY = 'hardening-read-key-9876543210';
const UPLOAD = `mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id url overlayUrl } } }`;

let server: TestServer;
let fileUrl: string;
let overlayUrl: string;

beforeAll(async () => {
  server = await startTestServer({ SEGCAT_API_KEY: API_KEY, SEGCAT_READ_KEY: READ_KEY });
  const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }], {}, bearer(API_KEY));
  fileUrl = new URL(response.data.uploadImage.image.url).pathname;
  overlayUrl = new URL(response.data.uploadImage.image.overlayUrl).pathname;
});

afterAll(async () => {
  await server?.stop();
});

function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** Starts a session with `key`; returns the response and the cookie pair to send back. */
async function session(key: string) {
  const response = await fetch(`${server.url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { response, setCookie, cookie: setCookie.split(';')[0]! };
}

const QUERY = '{ images { totalCount } }';

it('refuses queries without the read key, and answers them with either key', async () => {
  const bare = await server.graphql(QUERY);
  expect(bare.status).toBe(401);
  expect(bare.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(bare.errors?.[0]?.message).toMatch(/SEGCAT_READ_KEY/);
  expect((await server.graphql(QUERY, {}, bearer('wrong'))).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect((await server.graphql(QUERY, {}, bearer(READ_KEY))).data.images.totalCount).toBe(1);
  expect((await server.graphql(QUERY, {}, bearer(API_KEY))).data.images.totalCount).toBe(1);
});

it('refuses mutations with the read key', async () => {
  const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'dog.jpg', data: await photo('dog.jpg') }], {}, bearer(READ_KEY));
  expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(await server.runtime.database.prisma.image.count()).toBe(1);
});

it.each([
  ['/files/', () => fileUrl],
  ['/overlays/', () => overlayUrl],
])('guards %s with the read key', async (_what, url) => {
  const bare = await rawRequest(server.url, { path: url() });
  expect(bare.status).toBe(401);
  expect(bare.body.toString()).not.toMatch(/JFIF|Exif/);
  expect((await rawRequest(server.url, { path: url(), headers: bearer('wrong') })).status).toBe(401);
  const allowed = await rawRequest(server.url, { path: url(), headers: bearer(READ_KEY) });
  expect(allowed.status).toBe(200);
  expect(allowed.headers['content-type']).toBe('image/jpeg');
});

it('gives a browser an HttpOnly, SameSite=Strict session for the read key, good for files and queries only', async () => {
  const { response, setCookie, cookie } = await session(READ_KEY);
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({ scope: 'read' });
  expect(setCookie).toMatch(/HttpOnly/i);
  expect(setCookie).toMatch(/SameSite=Strict/i);
  expect(setCookie).toMatch(/Path=\//);
  expect(cookie).not.toContain(READ_KEY);
  expect((await rawRequest(server.url, { path: fileUrl, headers: { cookie } })).status).toBe(200);
  expect((await rawRequest(server.url, { path: overlayUrl, headers: { cookie } })).status).toBe(200);
  expect((await server.graphql(QUERY, {}, { cookie })).data.images.totalCount).toBe(1);
  const upload = await server.upload(UPLOAD, [{ variable: 'file', name: 'dog.jpg', data: await photo('dog.jpg') }], {}, { cookie });
  expect(upload.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
});

it('lets a session opened with the API key write', async () => {
  const { cookie } = await session(API_KEY);
  const upload = await server.upload(UPLOAD, [{ variable: 'file', name: 'dog.jpg', data: await photo('dog.jpg') }], {}, { cookie });
  expect(upload.errors).toBeUndefined();
  expect(await server.runtime.database.prisma.image.count()).toBe(2);
});

it('refuses a wrong key at /session, and forged, tampered or expired session cookies', async () => {
  const wrong = await session('not-a-key');
  expect(wrong.response.status).toBe(401);
  expect(wrong.setCookie).toBe('');
  const [, expires, mac] = decodeURIComponent((await session(READ_KEY)).cookie.split('=')[1]!).split('.');
  const forged = [
    `write.${expires}.${mac}`, // a read session promoted to write
    `read.${Number(expires) + 1}.${mac}`, // expiry pushed out
    `read.${expires}.${mac!.slice(0, -2)}AA`, // signature altered
    `read.1000000000.${mac}`, // long expired
    'read..', // empty
  ];
  for (const token of forged) {
    const cookie = `segcat_session=${token}`;
    expect((await rawRequest(server.url, { path: fileUrl, headers: { cookie } })).status).toBe(401);
    expect((await server.upload(UPLOAD, [{ variable: 'file', name: 'x.jpg', data: await photo('kite.jpg') }], {}, { cookie })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  }
});

it('ends a session with DELETE /session', async () => {
  const response = await fetch(`${server.url}/session`, { method: 'DELETE' });
  expect(response.status).toBe(204);
  expect(response.headers.get('set-cookie')).toMatch(/segcat_session=;.*Expires=Thu, 01 Jan 1970/);
});
