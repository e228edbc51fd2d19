/**
 * GET /files/<path>: serves what the file store wrote, and nothing else. The served-files service
 * decides whether a path is such a file, still pointed to by a row: a file whose image or segment
 * was deleted (or that a writer has not recorded yet) is not served. This sets the headers and
 * sends the bytes: a local file by path, an object from the bucket as a stream (proxied, so the
 * read key guards it as any file).
 */
import { pipeline } from 'node:stream/promises';
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { ServedFile, ServedFilesService } from '../services/served-files.service.js';
import { StoreBusyError } from '../storage/file-store.js';

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
  router.get('/{*path}', async (request: Request, response: Response, next: NextFunction) => {
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
    await sendStoredFile(request, response, file).catch((error: unknown) => {
      if (!(error instanceof StoreBusyError)) return next(error);
      response.set('Retry-After', String(error.retryAfterSeconds)).status(503).json({ error: 'too many files are being downloaded at once: retry shortly', code: error.code });
    });
  });
  return router;
}

/**
 * Sends a stored file with its type (the caller sets caching headers). A local file goes by path
 * (ranges, ETag and Last-Modified from express); an object goes as a stream with its ETag and
 * Last-Modified, answering 304 when the client's copy is current and 404 when it is gone.
 */
export async function sendStoredFile(request: Request, response: Response, file: ServedFile): Promise<void> {
  response.type(file.contentType);
  if (file.source.kind === 'local') return void response.sendFile(file.source.path, { dotfiles: 'deny', lastModified: true });
  const read = await file.source.open({ ifNoneMatch: request.get('if-none-match') });
  if (!read) return void response.status(404).json({ error: 'no such file' });
  if (read.notModified) return void response.status(304).set('ETag', read.etag).end();
  if (read.etag) response.set('ETag', read.etag);
  if (read.lastModified) response.set('Last-Modified', read.lastModified.toUTCString());
  if (read.bytes !== undefined) response.set('Content-Length', String(read.bytes));
  if (request.method === 'HEAD') {
    read.stream.destroy();
    return void response.end();
  }
  try {
    await pipeline(read.stream, response);
  } catch (error) {
    // Headers are gone once bytes flowed; a client that left is no error of ours.
    if (!response.headersSent) throw error;
    response.destroy();
  }
}
