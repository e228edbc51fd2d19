/**
 * Cache-Control of stored files and overlays. Under SEGCAT_READ_KEY every kind is `private`, so no
 * shared cache keeps a private catalogue's pictures; and nothing is cached for a year, so a
 * deleted image does not live on in caches.
 */
import { photo, startTestServer, type TestServer } from '../support/server.js';
import { rawRequest } from './raw-http.js';

const READ_KEY = 'cache-headers-read-key-0123456789';
const UPLOAD = `mutation($file: Upload!) {
  uploadImage(input: { file: $file }) { image { id url thumbnailUrl backgroundMaskUrl overlayUrl segments { id maskUrl } } }
}`;
const EXTRACT = `mutation($id: ID!) { extractSegment(input: { segmentId: $id }) { extraction { url } } }`;

const servers: TestServer[] = [];

afterAll(async () => {
  for (const server of servers) await server.stop();
});

/** Starts a server, adds a photo and a cut-out; returns each kind of file's URL path and Cache-Control. */
async function cacheControlOfEveryKind(env: Record<string, string>, headers: Record<string, string>) {
  const server = await startTestServer(env);
  servers.push(server);
  const uploaded = await server.upload(UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }], {}, headers);
  const image = uploaded.data.uploadImage.image;
  const extracted = await server.graphql(EXTRACT, { id: image.segments[0].id }, headers);
  const urls: Record<string, string> = {
    original: image.url,
    thumbnail: image.thumbnailUrl,
    mask: image.segments[0].maskUrl,
    backgroundMask: image.backgroundMaskUrl,
    cutout: extracted.data.extractSegment.extraction.url,
    overlay: image.overlayUrl,
  };
  const cacheControl: Record<string, string> = {};
  for (const [kind, url] of Object.entries(urls)) {
    const response = await rawRequest(server.url, { path: new URL(url).pathname, headers });
    expect(`${kind} ${response.status}`).toBe(`${kind} 200`);
    cacheControl[kind] = String(response.headers['cache-control']);
  }
  return { server, paths: Object.fromEntries(Object.entries(urls).map(([kind, url]) => [kind, new URL(url).pathname])), cacheControl };
}

it('with a read key, every file and overlay is private', async () => {
  const { cacheControl } = await cacheControlOfEveryKind({ SEGCAT_READ_KEY: READ_KEY }, { authorization: `Bearer ${READ_KEY}` });
  expect(Object.keys(cacheControl)).toHaveLength(6);
  for (const [kind, value] of Object.entries(cacheControl)) {
    expect(`${kind}: ${value}`).toMatch(new RegExp(`^${kind}: private, max-age=\\d+$`));
  }
});

it('without one, files may be cached publicly, but none for a year and none immutable; originals revalidate', async () => {
  const { server, paths, cacheControl } = await cacheControlOfEveryKind({}, {});
  for (const [kind, value] of Object.entries(cacheControl)) {
    expect(`${kind}: ${value}`).toMatch(new RegExp(`^${kind}: public, max-age=\\d+$`));
    expect(Number(/max-age=(\d+)/.exec(value)![1])).toBeLessThanOrEqual(3600);
  }
  const first = await rawRequest(server.url, { path: paths.original! });
  expect(first.headers['last-modified']).toBeDefined();
  const again = await rawRequest(server.url, { path: paths.original!, headers: { 'if-none-match': String(first.headers.etag) } });
  expect(again.status).toBe(304);
});
