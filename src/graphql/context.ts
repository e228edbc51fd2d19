/**
 * What every resolver receives: the services, per-request DataLoaders, URL building and the
 * caller's access.
 */
import type { Services } from '../services/services.js';
import type { Loaders } from './loaders.js';

/** Builds absolute URLs for stored files and other server routes. */
export interface UrlBuilder {
  /** URL of a file under DATA_DIR, by its relative path. */
  file(relativePath: string): string;
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
}

/** A UrlBuilder rooted at `base` (PUBLIC_URL, or the request's own origin). */
export function createUrlBuilder(base: string): UrlBuilder {
  const root = base.replace(/\/+$/, '');
  return {
    file: (relativePath) => `${root}/files/${relativePath.split('/').map(encodeURIComponent).join('/')}`,
    route: (path) => `${root}${path}`,
  };
}
