/**
 * Browser sessions live in PostgreSQL: logging out ends a session at once, on this server and on
 * another one sharing the database; changing a key ends its sessions; and wrong keys at
 * POST /session are rate limited per client address.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { photo, startTestServer, type TestServer } from '../support/server.js';

const API_KEY = 'sessions-api-key-0123456789';
const READ_KEY = 'sessions-read-key-9876543210';
const REFILL_SECONDS = 2;

let server: TestServer;
let fileUrl: string;
/** Runtimes started on `server`'s database, stopped before it. */
const others: { runtime: Runtime; dataDir: string }[] = [];

beforeAll(async () => {
  server = await startTestServer({
    SEGCAT_API_KEY: API_KEY,
    SEGCAT_READ_KEY: READ_KEY,
    SESSION_RATE_LIMIT_BURST: '5',
    SESSION_RATE_LIMIT_REFILL_SECONDS: String(REFILL_SECONDS),
  });
  const upload = await server.upload(
    `mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { url } } }`,
    [{ variable: 'file', name: 'eagle.jpg', data: await photo('eagle.jpg') }],
    {},
    { authorization: `Bearer ${API_KEY}` },
  );
  fileUrl = new URL(upload.data.uploadImage.image.url).pathname;
});

afterAll(async () => {
  for (const other of others) {
    await other.runtime.close();
    await rm(other.dataDir, { recursive: true, force: true });
  }
  await server?.stop();
});

/** A second segcat process on the same database, as when two servers sit behind one proxy. */
async function startOnSameDatabase(keys: { SEGCAT_API_KEY: string; SEGCAT_READ_KEY: string }): Promise<string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-test-'));
  const config = loadConfig({
    DATABASE_URL: server.runtime.config.databaseUrl!,
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    ...keys,
  });
  const runtime = await startRuntime(config, { http: true, worker: false });
  others.push({ runtime, dataDir });
  return runtime.url!;
}

/** POSTs a key to /session, from `ip` (the server trusts X-Forwarded-For from loopback). */
async function login(key: string, ip = '198.51.100.1', url = server.url) {
  const response = await fetch(`${url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ key }),
  });
  return { response, cookie: (response.headers.get('set-cookie') ?? '').split(';')[0]! };
}

async function logout(cookie: string, url = server.url): Promise<Response> {
  return fetch(`${url}/session`, { method: 'DELETE', headers: { cookie } });
}

/** Runs a GraphQL operation with the cookie; returns the HTTP status and the first error code. */
async function graphql(url: string, cookie: string, query: string) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
  return { status: response.status, code: body.errors?.[0]?.extensions?.code };
}

const READ = '{ images { totalCount } }';
// Deleting an image that does not exist: NOT_FOUND with write access, UNAUTHENTICATED without.
const WRITE = `mutation { deleteImage(input: { id: "${randomUUID()}" }) { id } }`;

it('stops honouring a copied cookie once its session has logged out', async () => {
  const { cookie } = await login(READ_KEY);
  const copy = cookie;
  expect(await graphql(server.url, cookie, READ)).toEqual({ status: 200, code: undefined });
  expect((await fetch(`${server.url}${fileUrl}`, { headers: { cookie } })).status).toBe(200);

  const out = await logout(cookie);
  expect(out.status).toBe(204);
  expect(out.headers.get('set-cookie')).toMatch(/segcat_session=;/);

  expect(await graphql(server.url, copy, READ)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  expect((await fetch(`${server.url}${fileUrl}`, { headers: { cookie: copy } })).status).toBe(401);
});

it('stops a copied write session from writing once it has logged out', async () => {
  const { cookie } = await login(API_KEY);
  expect((await graphql(server.url, cookie, WRITE)).code).toBe('NOT_FOUND');
  await logout(cookie);
  expect((await graphql(server.url, cookie, WRITE)).code).toBe('UNAUTHENTICATED');
  expect((await graphql(server.url, cookie, READ)).status).toBe(401);
});

it('keeps the session token out of the database', async () => {
  const { cookie } = await login(READ_KEY);
  const token = decodeURIComponent(cookie.split('=')[1]!);
  const rows = await server.runtime.database.prisma.session.findMany();
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(token).not.toContain(row.id);
  expect(JSON.stringify(rows)).not.toContain(token.split('.')[2]);
});

it('ends the session on another server sharing the database, at once', async () => {
  const other = await startOnSameDatabase({ SEGCAT_API_KEY: API_KEY, SEGCAT_READ_KEY: READ_KEY });
  const { cookie } = await login(API_KEY);
  expect((await graphql(other, cookie, WRITE)).code).toBe('NOT_FOUND');
  expect(await graphql(other, cookie, READ)).toEqual({ status: 200, code: undefined });

  expect((await logout(cookie, server.url)).status).toBe(204);

  expect((await graphql(other, cookie, WRITE)).code).toBe('UNAUTHENTICATED');
  expect(await graphql(other, cookie, READ)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
});

it('ends the sessions of a key when the key changes', async () => {
  const { cookie } = await login(READ_KEY);
  const rotated = await startOnSameDatabase({ SEGCAT_API_KEY: API_KEY, SEGCAT_READ_KEY: 'a-new-read-key-after-rotation' });
  expect(await graphql(rotated, cookie, READ)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  // The old key still works where it is still configured: it is the key, not the row, that changed.
  expect(await graphql(server.url, cookie, READ)).toEqual({ status: 200, code: undefined });
});

it('answers 429 with Retry-After after 5 wrong keys from one address, and lets the right key in after the wait', async () => {
  const ip = '203.0.113.7';
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    expect((await login(`wrong-key-${attempt}`, ip)).response.status).toBe(401);
  }
  const limited = await login('wrong-key-6', ip);
  expect(limited.response.status).toBe(429);
  const retryAfter = Number(limited.response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(REFILL_SECONDS);
  expect(await limited.response.json()).toEqual({ error: expect.stringMatching(/too many wrong keys.*try again in \d+ s/) });
  expect(limited.cookie).toBe('');

  // Even the right key waits, or the limit would not slow down guessing; other addresses do not.
  expect((await login(READ_KEY, ip)).response.status).toBe(429);
  expect((await login(READ_KEY, '203.0.113.8')).response.status).toBe(200);

  await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
  const after = await login(READ_KEY, ip);
  expect(after.response.status).toBe(200);
  expect(await graphql(server.url, after.cookie, READ)).toEqual({ status: 200, code: undefined });
});

it('removes expired session rows at the next login', async () => {
  const prisma = server.runtime.database.prisma;
  await prisma.session.create({ data: { id: 'e'.repeat(64), scope: 'READ', expiresAt: new Date(Date.now() - 1000) } });
  await login(READ_KEY);
  expect(await prisma.session.findUnique({ where: { id: 'e'.repeat(64) } })).toBeNull();
});
