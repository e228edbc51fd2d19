/**
 * GET /files/<path>: serves what the file store wrote, and nothing else. The store decides what a
 * path means; this only sets the headers.
 */
import { Router, type Request, type Response } from 'express';
import type { FileStore } from '../storage/file-store.js';

/** Content-addressed files never change, so clients may keep them forever. */
const IMMUTABLE_ROOTS = new Set(['originals', 'thumbnails']);

/** The /files router. `canRead` applies SEGCAT_READ_KEY. */
export function filesRouter(store: FileStore, canRead: (request: Request) => boolean): Router {
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
    const file = await store.resolveServed(decoded);
    if (!file) {
      response.status(404).json({ error: 'no such file' });
      return;
    }
    const root = decoded.split('/')[0]!;
    response.set('Cache-Control', IMMUTABLE_ROOTS.has(root) ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
    response.set('Content-Security-Policy', "default-src 'none'");
    response.type(file.contentType);
    response.sendFile(file.absolutePath, { dotfiles: 'deny', lastModified: true });
  });
  return router;
}
