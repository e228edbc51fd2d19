/**
 * What every resolver receives: the services, per-request DataLoaders, URL building, the
 * caller's access and a signal for when the caller goes away.
 */
import type { ServerResponse } from 'node:http';
import type { Services } from '../services/services.js';
import type { Loaders } from './loaders.js';

/** Builds absolute URLs for stored files and other server routes. */
export interface UrlBuilder {
  /**
   * URL of a stored file, by its relative path: under /files/, or a presigned URL to the bucket
   * (S3_PRESIGN). Only built for callers who passed the read check, as every query's are.
   */
  file(relativePath: string): Promise<string>;
  /** URL of a server route, e.g. `/overlays/<id>.jpg`. */
  route(path: string): string;
}

/** Per-request context of a GraphQL operation. */
export interface GraphQLContext {
  services: Services;
  loaders: Loaders;
  urls: UrlBuilder;
  /** Whether the caller may run mutations / queries (SEGCAT_API_KEY / SEGCAT_READ_KEY). */
  access: { write: boolean; read: boolean };
  /** Aborted once the HTTP exchange is over, answered or not (absent outside HTTP). */
  signal?: AbortSignal;
}

/**
 * A signal aborted when the response closes: sent, or its client disconnected first. Work that
 * only the client wants (e.g. a `wait: true` upload's wait) stops there.
 */
export function responseClosedSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => controller.abort());
  return controller.signal;
}

/**
 * A UrlBuilder rooted at `base` (PUBLIC_URL, or the request's own origin); `presign` gives a direct
 * URL to a stored file when the store hands them out (S3_PRESIGN), else undefined.
 */
export function createUrlBuilder(base: string, presign?: (relativePath: string) => Promise<string | undefined>): UrlBuilder {
  const root = base.replace(/\/+$/, '');
  return {
    file: async (relativePath) =>
      (await presign?.(relativePath)) ?? `${root}/files/${relativePath.split('/').map(encodeURIComponent).join('/')}`,
    route: (path) => `${root}${path}`,
  };
}
