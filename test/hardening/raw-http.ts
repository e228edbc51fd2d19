/**
 * HTTP below fetch, for the hardening tests: request paths sent verbatim (fetch normalises `..`),
 * multipart bodies built byte by byte (FormData escapes control characters in file names), and a
 * walk of DATA_DIR to prove what was, and was not, left behind.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

/** A response read in full. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends one request with `path` exactly as given. */
export function rawRequest(
  baseUrl: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer },
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: hostname, port, method: options.method ?? 'GET', path: options.path, headers: options.headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * A file part of a multipart request: `filename` is written into the header byte for byte, or,
 * with `encoded`, percent-encoded as RFC 5987 `filename*=UTF-8''...` (how clients send any name).
 */
export interface RawPart {
  field: string;
  filename: string;
  encoded?: boolean;
  data: Buffer;
}

/** A GraphQL multipart request (operations, map, files) as raw bytes with its content type. */
export function multipartBody(
  query: string,
  variables: Record<string, unknown>,
  files: (RawPart & { variable: string })[],
): { body: Buffer; contentType: string } {
  const boundary = `----segcat${randomBytes(8).toString('hex')}`;
  const map = Object.fromEntries(files.map((file) => [file.field, [`variables.${file.variable}`]]));
  const field = (name: string, value: string) =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  const parts = [field('operations', JSON.stringify({ query, variables })), field('map', JSON.stringify(map))];
  for (const file of files) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; `),
      file.encoded ? Buffer.from(`filename*=UTF-8''${encodeURIComponent(file.filename)}`) : Buffer.from(`filename="${file.filename}"`, 'latin1'),
      Buffer.from(`\r\nContent-Type: application/octet-stream\r\n\r\n`),
      file.data,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Every file under `dir`, relative to it with `/` separators, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** Polls `check` until it holds; throws with `what` after a generous deadline. */
export async function eventually(check: () => Promise<boolean>, what: string, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still not true after ${deadlineMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
