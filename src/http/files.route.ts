/**
 * GET /files/<path>: serves what the file store wrote, and nothing else. The served-files service
 * decides whether a path is such a file, still pointed to by a row: a file whose image or segment
 * was deleted (or that a writer has not recorded yet) is not served. This sets the headers.
 */
import { Router, type Request, type Response } from 'express';
import type { ServedFilesService } from '../services/served-files.service.js';

/**
 * Cache-Control of a stored file or overlay. Under SEGCAT_READ_KEY they are `private`, so no
 * shared cache (proxy, CDN) keeps them. Nothing is kept for long, so a deleted image leaves
 * caches soon: an hour for content-addressed files, then revalidated by ETag and Last-Modified;
 * five minutes for masks, cut-outs and overlays, which change when an image is re-segmented.
 */
export function fileCacheControl(kind: 'content' | 'derived', readKey: boolean): string {
  return `${readKey ? 'private' : 'public'}, max-age=${kind === 'content' ? 3600 : 300}`;
}

/**
 * The /files router. `files` finds what to send; `canRead` applies SEGCAT_READ_KEY; `readKey`
 * says whether one is set.
 */
export function filesRouter(
  files: Pick<ServedFilesService, 'storedFile'>,
  canRead: (request: Request) => boolean,
  readKey: boolean,
): Router {
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
    const file = await files.storedFile(decoded);
    if (!file) {
      response.status(404).json({ error: 'no such file' });
      return;
    }
    // Content-addressed files never change, but deleteImage removes them.
    response.set('Cache-Control', fileCacheControl(file.contentAddressed ? 'content' : 'derived', readKey));
    response.set('Content-Security-Policy', "default-src 'none'");
    response.type(file.contentType);
    response.sendFile(file.absolutePath, { dotfiles: 'deny', lastModified: true });
  });
  return router;
}
