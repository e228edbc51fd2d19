/**
 * A real segcat server for tests: its own database (cloned from the migrated template), its own
 * DATA_DIR, the real model, listening on a free port; plus small GraphQL-over-HTTP helpers.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase } from './database.js';
import { PHOTO_DIR } from './vision.js';

export { freePort } from './database-server.js';

/** The test photos (test/fixtures/images). */
export const IMAGES_DIR = PHOTO_DIR;

/** A running test server. */
export interface TestServer {
  url: string;
  runtime: Runtime;
  dataDir: string;
  /** Connection URL of its database. */
  databaseUrl: string;
  /** POSTs a GraphQL operation as JSON. */
  graphql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  /** POSTs a GraphQL multipart request with files (name → bytes). */
  upload<T = any>(
    query: string,
    files: { variable: string; name: string; data: Buffer | Uint8Array }[],
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T>>;
  stop(): Promise<void>;
}

/** A GraphQL response with its HTTP status. */
export interface GraphQLResponse<T> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; stacktrace?: unknown } }[];
}

/** Options of `startTestServer`. */
export interface TestServerOptions {
  /**
   * Share this server's database and DATA_DIR, as a second server behind a load balancer does
   * (README, "Scaling out"). Stop it before the server it shares with: only that one drops them.
   */
  sharing?: TestServer;
}

/**
 * Starts a server; `env` overrides settings (e.g. MAX_UPLOAD_BYTES, SEGCAT_API_KEY). It runs a
 * queue worker unless SEGCAT_EMBEDDED_WORKER=false, as `segcat serve` does.
 */
export async function startTestServer(env: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const shared = options.sharing;
  const database = shared ? { url: shared.databaseUrl, drop: async () => {} } : await createTestDatabase();
  const dataDir = shared?.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'segcat-test-')));
  const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test', ...env });
  let runtime: Runtime;
  try {
    runtime = await startRuntime(config, { http: true, worker: config.embeddedWorker });
  } catch (error) {
    await database.drop();
    throw error;
  }
  const url = runtime.url!;
  const post = async (body: BodyInit, headers: Record<string, string>) => {
    const response = await fetch(`${url}/graphql`, { method: 'POST', body, headers: { 'apollo-require-preflight': 'true', ...headers } });
    const text = await response.text();
    try {
      return { status: response.status, ...JSON.parse(text) };
    } catch {
      return { status: response.status, errors: [{ message: text }] };
    }
  };
  return {
    url,
    runtime,
    dataDir,
    databaseUrl: database.url,
    graphql: (query, variables = {}, headers = {}) =>
      post(JSON.stringify({ query, variables }), { 'content-type': 'application/json', ...headers }),
    upload: (query, files, variables = {}, headers = {}) => {
      const form = new FormData();
      const map: Record<string, string[]> = {};
      const vars: Record<string, unknown> = { ...variables };
      files.forEach((file, index) => {
        map[String(index)] = [`variables.${file.variable}`];
        setPath(vars, file.variable, null);
      });
      form.append('operations', JSON.stringify({ query, variables: vars }));
      form.append('map', JSON.stringify(map));
      files.forEach((file, index) => form.append(String(index), new Blob([file.data]), file.name));
      return post(form, headers);
    },
    async stop() {
      await runtime.close();
      if (shared) return;
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls an image's status over GraphQL until it is DONE or FAILED (or a minute passes). */
export async function waitForSettled(server: TestServer, id: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await server.graphql(`query($id: ID!) { image(id: $id) { status } }`, { id });
    const status: string = response.data?.image?.status;
    if (status === 'DONE' || status === 'FAILED' || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Uploads fixture photos one by one, each waited for; resolves to their ids by file name. Throws
 * unless every one is segmented (DONE).
 */
export async function uploadPhotos(server: TestServer, names: readonly string[], headers?: Record<string, string>): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const name of names) {
    const response = await server.upload(
      'mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id status error } } }',
      [{ variable: 'file', name, data: await photo(name) }],
      {},
      headers,
    );
    const image = response.data?.uploadImage.image;
    if (image?.status !== 'DONE') throw new Error(`${name} was not segmented: ${JSON.stringify(response.errors ?? image)}`);
    ids.set(name, image.id);
  }
  return ids;
}

/** Reads a photo from test/fixtures/images, e.g. photo('dog.jpg'). */
export function photo(name: string): Promise<Buffer> {
  return readFile(path.join(IMAGES_DIR, name));
}

/** Sets `a.b.0` style paths inside variables, as the multipart spec's map does. */
function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node: any = target;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= /^\d+$/.test(keys[keys.indexOf(key) + 1] ?? '') ? [] : {};
    node = node[key];
  }
  node[keys.at(-1)!] = value;
}
