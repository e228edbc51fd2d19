/**
 * Resolvers through Apollo's executeOperation: the real services over a real database and model,
 * without HTTP, so each test reads as an operation and its result.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import { loadConfig } from '../../src/config.js';
import { createUrlBuilder, type GraphQLContext } from '../../src/graphql/context.js';
import { createLoaders } from '../../src/graphql/loaders.js';
import { createApolloServer } from '../../src/graphql/server.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { photo } from '../support/server.js';

let runtime: Runtime;
let apollo: ApolloServer<GraphQLContext>;
let database: TestDatabase;
let dataDir: string;

function context(access = { read: true, write: true }): GraphQLContext {
  return {
    services: runtime.services,
    loaders: createLoaders(runtime.services.catalogue),
    urls: createUrlBuilder('http://segcat.test'),
    access,
  };
}

async function run(query: string, variables: Record<string, unknown> = {}, access?: GraphQLContext['access']) {
  const response = await apollo.executeOperation({ query, variables }, { contextValue: context(access) });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return response.body.singleResult as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-resolvers-'));
  const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  runtime = await startRuntime(config, { http: false, worker: true });
  apollo = createApolloServer({ logger: runtime.logger, production: false, maxFilesPerRequest: 50 });
  await apollo.start();
  for (const name of ['person.jpg', 'giraffe.jpg']) {
    await runtime.services.ingest.ingest({ filename: name, stream: Readable.from(await photo(name)) }, { wait: true });
  }
});

afterAll(async () => {
  await apollo?.stop();
  await runtime?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

it('resolves an image search with nested segments and absolute URLs', async () => {
  const result = await run(`{ images(filter: { labels: ["zebra"] }) { totalCount edges { node { filename url labels segments(labels: ["zebra"]) { label maskUrl } } } } }`);
  expect(result.errors).toBeUndefined();
  expect(result.data.images.totalCount).toBe(1);
  const node = result.data.images.edges[0].node;
  expect(node.filename).toBe('giraffe.jpg');
  expect(node.url).toMatch(/^http:\/\/segcat\.test\/files\/originals\/[0-9a-f]{2}\/[0-9a-f]{64}\.jpg$/);
  expect(node.labels).toEqual(expect.arrayContaining(['giraffe', 'zebra']));
  expect(node.segments.every((segment: { label: string }) => segment.label === 'zebra')).toBe(true);
  expect(node.segments[0].maskUrl).toMatch(/^http:\/\/segcat\.test\/files\/masks\//);
});

it('resolves a segment back to its image', async () => {
  const result = await run(`{ segments(filter: { labels: ["dog"] }) { edges { node { label image { filename } } } } }`);
  expect(result.data.segments.edges.map((edge: any) => edge.node.image.filename)).toEqual(['person.jpg']);
});

it('maps domain errors to codes', async () => {
  const notFound = await run(`mutation { extractSegment(input: { segmentId: "00000000-0000-4000-8000-000000000000" }) { extraction { id } } }`);
  expect(notFound.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  const badScore = await run(`{ labels(minScore: 2) { label } }`);
  expect(badScore.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(badScore.errors?.[0]?.message).toMatch(/minScore must be between 0 and 1/);
});

it('refuses mutations when the caller may not write', async () => {
  const result = await run(`mutation { deleteImage(input: { id: "00000000-0000-4000-8000-000000000000" }) { id } }`, {}, { read: true, write: false });
  expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
});

it('masks unexpected errors', async () => {
  const broken = { ...context(), loaders: { ...context().loaders, labelsOfImage: { load: () => Promise.reject(new Error('secret detail')) } } };
  const response = await apollo.executeOperation(
    { query: `{ images { edges { node { labels } } } }` },
    { contextValue: broken as unknown as GraphQLContext },
  );
  const result = (response.body as { singleResult: { errors?: { message: string; extensions?: { code?: string } }[] } }).singleResult;
  expect(result.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  expect(result.errors?.[0]?.message).not.toMatch(/secret/);
});

it('keeps facet counts current as images come and go', async () => {
  const birds = async () => (await run(`{ labels { label imageCount } }`)).data.labels.find((entry: { label: string }) => entry.label === 'bird');
  expect(await birds()).toBeUndefined();
  const { image } = await runtime.services.ingest.ingest({ filename: 'eagle.jpg', stream: Readable.from(await photo('eagle.jpg')) }, { wait: true });
  expect(await birds()).toEqual({ label: 'bird', imageCount: 1 });
  await runtime.services.ingest.deleteImage(image.id);
  // The deletion's notification reaches the cache asynchronously.
  const deadline = Date.now() + 10_000;
  while ((await birds()) !== undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(await birds()).toBeUndefined();
});
