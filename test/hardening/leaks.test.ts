/**
 * What errors and URLs must not leak: server paths in a FAILED image's error, schema hints in
 * production, internal errors for a client's mistakes, and a client's Host header in `*Url` fields.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { photo, startTestServer, waitForSettled, type TestServer } from '../support/server.js';
import { rawRequest } from './raw-http.js';

let production: TestServer;
let development: TestServer;

beforeAll(async () => {
  production = await startTestServer({ NODE_ENV: 'production' });
  development = await startTestServer({ NODE_ENV: 'development' });
});

afterAll(async () => {
  await production?.stop();
  await development?.stop();
});

it('names files in a FAILED image error relative to DATA_DIR, never by their absolute path', async () => {
  const upload = await development.upload(
    'mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id status } } }',
    [{ variable: 'file', name: 'dog.jpg', data: await photo('dog.jpg') }],
  );
  const { id } = upload.data.uploadImage.image;
  const row = await development.runtime.database.prisma.image.findUniqueOrThrow({ where: { id } });
  await rm(path.join(development.dataDir, row.storagePath));
  const queued = await development.graphql('mutation($ids: [ID!]) { resegmentImages(input: { ids: $ids }) { queued } }', { ids: [id] });
  expect(queued.data).toEqual({ resegmentImages: { queued: 1 } });
  expect(await waitForSettled(development, id)).toBe('FAILED');
  const { data } = await development.graphql('query($id: ID!) { image(id: $id) { error } }', { id });
  expect(data.image.error).toMatch(/DATA_DIR\/originals\//);
  expect(data.image.error).not.toContain(development.dataDir);
});

it('gives no "Did you mean" hints in production, and keeps them in development', async () => {
  const query = '{ imagez { totalCount } }';
  const prod = await production.graphql(query);
  expect(prod.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(JSON.stringify(prod.errors)).not.toMatch(/Did you mean/);
  expect(JSON.stringify((await development.graphql(query)).errors)).toMatch(/Did you mean .*images/);
});

it.each([
  ['a cursor with score 1e308', `{ images(filter: { labels: ["dog"] }, after: "${Buffer.from(JSON.stringify({ score: 1e308, createdAt: '2026-01-01T00:00:00.000Z', id: '00000000-0000-0000-0000-000000000000' })).toString('base64url')}") { totalCount } }`],
  ['a cursor dated in the year 275760', `{ images(after: "${Buffer.from(JSON.stringify({ score: null, createdAt: '+275760-09-13T00:00:00.000Z', id: '00000000-0000-0000-0000-000000000000' })).toString('base64url')}") { totalCount } }`],
  ['a segments cursor with score -1', `{ segments(after: "${Buffer.from(JSON.stringify({ score: -1, id: '00000000-0000-0000-0000-000000000000' })).toString('base64url')}") { totalCount } }`],
  ['a subscription', 'subscription { images { totalCount } }'],
])('answers %s with BAD_USER_INPUT, not an internal error', async (_what, query) => {
  const response = await production.graphql(query);
  expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

it.each([
  ['a Host header that is not a host name', { Host: 'javascript://evil' }],
  ['an X-Forwarded-Proto that is not http or https', { 'X-Forwarded-Proto': 'javascript' }],
])('refuses %s instead of building URLs on it', async (_what, headers) => {
  const response = await rawRequest(development.url, {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify({ query: '{ images { edges { node { url } } } }' })),
  });
  expect(response.status).toBe(400);
  expect(JSON.parse(response.body.toString()).errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/Host or X-Forwarded-Proto/) });
});

it('builds URLs on a trusted proxy\'s https and host, and on nothing else', async () => {
  const query = JSON.stringify({ query: '{ images(first: 1) { edges { node { url } } } }' });
  const viaProxy = await rawRequest(development.url, {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'photos.example.com' },
    body: Buffer.from(query),
  });
  // The test client is on loopback, which TRUST_PROXY trusts by default.
  expect(JSON.parse(viaProxy.body.toString()).data.images.edges[0].node.url).toMatch(/^https:\/\/photos\.example\.com\/files\/originals\//);
});

it('listens on 127.0.0.1 unless HOST says otherwise', () => {
  expect(new URL(development.url).hostname).toBe('127.0.0.1');
});
