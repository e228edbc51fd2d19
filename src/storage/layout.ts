/**
 * Where every stored file lives: the one module that builds stored paths and reads them back.
 * Paths are relative to DATA_DIR (or, with STORAGE=s3, follow S3_PREFIX in the object's key), with
 * `/` separators:
 *
 *   originals/<aa>/<sha256>.<ext>                 content-addressed originals
 *   thumbnails/<aa>/<sha256>.webp                 grid thumbnails
 *   masks/<imageId>/<model>/<recipe name>.png     one mask per segment, plus m<root>.background.png
 *   cutouts/<segmentId>/<background>.<format>     cut-outs (<background>-refined.<format> with refine)
 *   overlays/<imageId>/<stamp>.jpg                cached overlay pictures
 *   exports/<exportId>.json                       COCO exports (exportCoco); no row: each is its own record
 *   tmp/                                          uploads in flight (multipart spools too), always on the local disk; emptied on start
 *   quarantine/<run>/<relative path>              files no row pointed to, kept SEGCAT_QUARANTINE_DAYS; never served
 *   catalogue.json                                the id of the catalogue these files belong to (catalogue-identity.ts)
 *
 * `<aa>` is the sha256's first two hex digits; `<root>` is the uploaded file's name, cleaned
 * (maskFileRoot).
 */
import path from 'node:path';
import { extensionOfMimeType, mimeTypeOfExtension } from '../vision/formats.js';
import { maskRoot } from '../vision/mask-filename.js';

/** Directories of files that rows point to, which integrity checks compare with the catalogue. */
export const RECORDED_ROOTS = ['originals', 'thumbnails', 'masks', 'cutouts', 'overlays'] as const;

/** Directories that hold files the store wrote; only these are ever served. */
export const SERVED_ROOTS = [...RECORDED_ROOTS, 'exports'] as const;

/** One of the directories of stored files. */
export type StoredRoot = (typeof SERVED_ROOTS)[number];

/**
 * Whose a stored file is: `key` is the sha256 of the bytes (originals, thumbnails), the image id
 * (masks, overlays), the segment id (cut-outs) or the export's own id (exports).
 */
export interface FileOwner {
  root: StoredRoot;
  key: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Relative path of an original. */
export function originalPath(sha256: string, mimeType: string): string {
  return `originals/${sha256.slice(0, 2)}/${sha256}.${extensionOfMimeType(mimeType) ?? 'bin'}`;
}

/** Relative path of a thumbnail. */
export function thumbnailPath(sha256: string): string {
  return `thumbnails/${sha256.slice(0, 2)}/${sha256}.webp`;
}

/**
 * Relative directory of an image's masks, or of those one model made: one folder per model, so a
 * re-segmentation never overwrites files the current rows point to.
 */
export function maskDir(imageId: string, modelName?: string): string {
  return modelName === undefined ? `masks/${imageId}` : `masks/${imageId}/${modelName}`;
}

/** Relative path of a mask file (named by the recipe: see vision/mask-filename.ts) that a model made. */
export function maskPath(imageId: string, modelName: string, fileName: string): string {
  return `${maskDir(imageId, modelName)}/${fileName}`;
}

/**
 * The `<root>` of the recipe's mask names for a stored image: the uploaded file's name without
 * its extension, reduced to characters that are safe in a file name (uploaders choose it).
 */
export function maskFileRoot(filename: string): string {
  const safe = maskRoot(filename).replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
  return safe === '' ? 'image' : safe;
}

/** Relative directory of a segment's cut-outs. */
export function cutoutDir(segmentId: string): string {
  return `cutouts/${segmentId}`;
}

/** Relative path of a cut-out; `refined` when made from the refined mask. */
export function cutoutPath(segmentId: string, background: string, format: string, refined = false): string {
  return `${cutoutDir(segmentId)}/${background.toLowerCase()}${refined ? '-refined' : ''}.${format.toLowerCase()}`;
}

/** Relative path of a cached overlay picture; `stamp` changes when the segments do. */
export function overlayPath(imageId: string, stamp: string): string {
  return `${overlayDir(imageId)}/${stamp}.jpg`;
}

function overlayDir(imageId: string): string {
  return `overlays/${imageId}`;
}

/** Relative path of a COCO export. */
export function exportPath(exportId: string): string {
  return `exports/${exportId}.json`;
}

/**
 * Directories holding files derived from an image (masks, overlays) and from its segments
 * (cut-outs), removed with it. They are named after ids no other row will ever have.
 */
export function derivedDirs(imageId: string, segmentIds: readonly string[] = []): string[] {
  return [maskDir(imageId), overlayDir(imageId), ...segmentIds.map((id) => cutoutDir(id))];
}

/**
 * The row a stored file belongs to, read from where it sits: the sha256 of an original or
 * thumbnail, the image id of a mask or overlay, the segment id of a cut-out. Undefined for a
 * path outside that layout.
 */
export function ownerOf(relativePath: string): FileOwner | undefined {
  const [root, folder, ...rest] = relativePath.split('/');
  if (root === 'originals' || root === 'thumbnails') {
    const sha256 = /^([0-9a-f]{64})\.[a-z]+$/.exec(rest.join('/'))?.[1];
    return sha256 && folder === sha256.slice(0, 2) ? { root, key: sha256 } : undefined;
  }
  if ((root === 'masks' || root === 'overlays' || root === 'cutouts') && UUID.test(folder ?? '') && rest.length > 0) {
    return { root, key: folder! };
  }
  const exportId = root === 'exports' && rest.length === 0 ? /^(.+)\.json$/.exec(folder ?? '')?.[1] : undefined;
  return exportId && UUID.test(exportId) ? { root: 'exports', key: exportId } : undefined;
}

/** Whether rows point to files of this owner's root; an export is a snapshot with no row, served while it exists. */
export function isRecorded(owner: FileOwner): boolean {
  return owner.root !== 'exports';
}

/** Whether a stored file is named after its bytes (originals, thumbnails): such files are touched only under the content lock. */
export function isContentAddressed(owner: FileOwner): boolean {
  return owner.root === 'originals' || owner.root === 'thumbnails';
}

/**
 * The media type of a URL path below /files/ when it names a file the store writes there, else
 * undefined: no `..`, no absolute paths, no hidden or temporary names, only the served roots.
 * (The filesystem store also refuses symlinks.)
 */
export function servedContentType(urlPath: string): string | undefined {
  const segments = urlPath.split('/');
  const valid =
    segments.length >= 2 &&
    (SERVED_ROOTS as readonly string[]).includes(segments[0]!) &&
    segments.every((segment) => /^[A-Za-z0-9_][A-Za-z0-9_.\-]*$/.test(segment) && !segment.includes('..'));
  return valid && !urlPath.endsWith('.tmp') ? contentTypeOf(urlPath) : undefined;
}

/** Media type of a stored file, from its extension; undefined for anything the store never serves. */
export function contentTypeOf(relativePath: string): string | undefined {
  const extension = path.posix.extname(relativePath).slice(1).toLowerCase();
  return extension === 'json' ? 'application/json' : mimeTypeOfExtension(extension);
}
