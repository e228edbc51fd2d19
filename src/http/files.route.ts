/**
 * GET /files/<path>: serves what the file store wrote, and nothing else. The store decides what a
 * path means, and a row must still point to the file: a file whose image or segment was deleted
 * (or that a writer has not recorded yet) is not served. This sets the headers.
 */
import { Router, type Request, type Response } from 'express';
import type { FileOwner, FileStore } from '../storage/file-store.js';

/** Content-addressed files: their bytes never change, but deleteImage removes them. */
const CONTENT_ROOTS = new Set(['originals', 'thumbnails']);

/**
 * Cache-Control of a stored file or overlay. Under SEGCAT_READ_KEY they are `private`, so no
 * shared cache (proxy, CDN) keeps them. Nothing is kept for long, so a deleted image leaves
 * caches soon: an hour for content-addressed files, then revalidated by ETag and Last-Modified;
 * five minutes for masks, cut-outs and overlays, which change when an image is re-segmented.
 */
export function fileCacheControl(kind: 'content' | 'derived', readKey: boolean): string {
  return `${readKey ? 'private' : 'public'}, max-age=${kind === 'content' ? 3600 : 300}`;
}

/** Whether a row points to a stored file (a path relative to DATA_DIR). */
export type IsReferenced = (relativePath: string, owner: FileOwner) => Promise<boolean>;

/**
 * The /files router. `isReferenced` asks the catalogue about a file; `canRead` applies
 * SEGCAT_READ_KEY; `readKey` says whether one is set.
 */
export function filesRouter(store: FileStore, isReferenced: IsReferenced, canRead: (request: Request) => boolean, readKey: boolean): Router {
  const router = Router();
  router.get('/{*path}', async (request: Request, response: Response) => {
    if (!canRead(request)) {
      response.status(401).json({ error: 'reading files needs a key: send `Authorization: Bearer <SEGCAT_READ_KEY>`' });
      return;
    }
    // Decoded here once: an encoded `..` or `/` (%2e%2e, %2f) must not slip past the store's checks.
    const raw = request.path.slice(1);
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      response.status(400).json({ error: 'malformed file path' });
      return;
    }
    const owner = store.ownerOf(decoded);
    const file = owner && (await store.resolveServed(decoded));
    if (!file || !(await isReferenced(decoded, owner))) {
      response.status(404).json({ error: 'no such file' });
      return;
    }
    const root = decoded.split('/')[0]!;
    response.set('Cache-Control', fileCacheControl(CONTENT_ROOTS.has(root) ? 'content' : 'derived', readKey));
    response.set('Content-Security-Policy', "default-src 'none'");
    response.type(file.contentType);
    response.sendFile(file.absolutePath, { dotfiles: 'deny', lastModified: true });
  });
  return router;
}
