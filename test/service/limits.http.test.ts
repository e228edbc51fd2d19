/**
 * A server started with limits and keys: upload size, API keys, production mode, and queued
 * (wait: false) uploads.
 */
import { photo, startTestServer, waitForSettled, type TestServer } from '../support/server.js';

const API_KEY = 'test-write-key-0123456789';
const UPLOAD = `mutation($file: Upload!, $wait: Boolean) {
  uploadImage(input: { file: $file, wait: $wait }) { duplicate image { id status } }
}`;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ MAX_UPLOAD_BYTES: '200000', SEGCAT_API_KEY: API_KEY, NODE_ENV: 'production' });
});

afterAll(async () => {
  await server?.stop();
});

const auth = { authorization: `Bearer ${API_KEY}` };

it('refuses mutations without the API key, and with a wrong one', async () => {
  const bare = await server.upload(UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }]);
  expect(bare.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  const wrong = await server.upload(UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }], {}, { authorization: 'Bearer nope' });
  expect(wrong.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  const count = await server.graphql('{ images { totalCount } }');
  expect(count.data.images.totalCount).toBe(0);
});

it('keeps reads open when only the API key is set', async () => {
  const response = await server.graphql('{ labels { label } }');
  expect(response.errors).toBeUndefined();
});

it('refuses a file over MAX_UPLOAD_BYTES with PAYLOAD_TOO_LARGE and keeps nothing', async () => {
  const big = await photo('kite.jpg');
  expect(big.length).toBeGreaterThan(200_000);
  const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'kite.jpg', data: big }], {}, auth);
  expect(response.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
  expect(response.errors?.[0]?.message).toMatch(/MAX_UPLOAD_BYTES/);
  const count = await server.graphql('{ images { totalCount } }');
  expect(count.data.images.totalCount).toBe(0);
});

it('queues an upload with wait: false, which then reaches DONE', async () => {
  const response = await server.upload(UPLOAD, [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }], { wait: false }, auth);
  expect(response.errors).toBeUndefined();
  expect(response.data.uploadImage.image.status).toBe('PENDING');
  const id = response.data.uploadImage.image.id;
  expect(await waitForSettled(server, id)).toBe('DONE');
});

it('hides introspection and stack traces in production', async () => {
  const introspection = await server.graphql('{ __schema { types { name } } }');
  expect(introspection.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const bad = await server.graphql('{ images(first: -1) { totalCount } }');
  expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(bad.errors?.[0]?.extensions?.stacktrace).toBeUndefined();
});

it('refuses a query nested too deeply', async () => {
  const deep = `{ images { edges { node { segments { image { segments { image { segments { image { segments { image { id } } } } } } } } } } } }`;
  const response = await server.graphql(deep);
  expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(response.errors?.[0]?.message).toMatch(/nested \d+ levels deep/);
});
