/**
 * API limits: body size, request time, query depth and cost, page caps, CSRF prevention, and what
 * production mode hides (introspection, the Sandbox landing page, stack traces), each shown
 * against a development server where the difference is visible.
 */
import net from 'node:net';
import { photo, startTestServer, type TestServer } from '../support/server.js';

let production: TestServer;
let development: TestServer;

beforeAll(async () => {
  production = await startTestServer({ NODE_ENV: 'production', REQUEST_TIMEOUT_MS: '1000' });
  development = await startTestServer({ NODE_ENV: 'development' });
});

afterAll(async () => {
  await production?.stop();
  await development?.stop();
});

it('refuses a JSON body over 1 MB with PAYLOAD_TOO_LARGE and says what to do', async () => {
  const response = await production.graphql('{ labels { label } }', { padding: 'x'.repeat(1024 * 1024 + 1) });
  expect(response.status).toBe(413);
  expect(response.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
  expect(response.errors?.[0]?.message).toBe('the request body is larger than the limit of 1mb for JSON; send files as multipart uploads');
});

it('drops a client that does not finish sending its request within REQUEST_TIMEOUT_MS', async () => {
  const { hostname, port } = new URL(production.url);
  const socket = net.connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk) => (received += chunk));
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.write(`POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":`);
  await closed;
  expect(received).toMatch(/^HTTP\/1\.1 408/);
  expect((await fetch(`${production.url}/health`)).status).toBe(200);
});

it('refuses a query nested too deeply, naming the limit', async () => {
  const deep = `{ images { edges { node { segments { image { segments { image { segments { image { segments { image { id } } } } } } } } } } } }`;
  const response = await production.graphql(deep);
  expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(response.errors?.[0]?.message).toMatch(/^the query is nested \d+ levels deep; the limit is 10$/);
});

it('refuses a query that would cost too much, and says to ask for smaller pages', async () => {
  const costly = `{ images(first: 100) { edges { node { segments { extractions { id } } } } } segments(first: 200) { edges { node { extractions { id } } } } }`;
  const response = await production.graphql(costly);
  expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(response.errors?.[0]?.message).toMatch(/would cost about \d+ objects; the limit is 20000: ask for smaller pages/);
});

it.each([
  ['images', '{ images(first: 101) { totalCount } }', /100/],
  ['segments', '{ segments(first: 201) { totalCount } }', /200/],
  ['a negative page', '{ images(first: -1) { totalCount } }', /first/],
])('caps page sizes: %s', async (_what, query, limit) => {
  const response = await production.graphql(query);
  expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(response.errors?.[0]?.message).toMatch(limit);
});

it('refuses a multipart upload without the CSRF preflight header, storing nothing', async () => {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: 'mutation($f: Upload!) { uploadImage(input: { file: $f }) { image { id } } }', variables: { f: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.f'] }));
  form.append('0', new Blob([await photo('eagle.jpg')]), 'eagle.jpg');
  const response = await fetch(`${production.url}/graphql`, { method: 'POST', body: form });
  expect(response.status).toBe(400);
  expect(await response.text()).toMatch(/Cross-Site Request Forgery.*apollo-require-preflight/s);
  expect(await production.runtime.database.prisma.image.count()).toBe(0);
});

it('answers introspection only outside production', async () => {
  const query = '{ __schema { queryType { name } } }';
  expect((await development.graphql(query)).data?.__schema.queryType.name).toBe('Query');
  const refused = await production.graphql(query);
  expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(refused.errors?.[0]?.message).toMatch(/introspection is not allowed/i);
});

it('shows the Sandbox landing page only outside production', async () => {
  const landing = (server: TestServer) => fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
  const dev = await landing(development);
  expect(dev.headers.get('content-type')).toMatch(/text\/html/);
  expect(await dev.text()).toMatch(/sandbox/i);
  const prod = await landing(production);
  expect(prod.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
  expect(await prod.text()).not.toMatch(/sandbox/i);
});

it('sends stack traces only outside production', async () => {
  const query = '{ image(id: "not-a-uuid") { id } }';
  const dev = await development.graphql(query);
  expect(dev.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(dev.errors?.[0]?.extensions?.stacktrace).toBeDefined();
  const prod = await production.graphql(query);
  expect(prod.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(JSON.stringify(prod.errors)).not.toMatch(/stacktrace|\.ts:\d+|at [\w.]+ \(/);
});
