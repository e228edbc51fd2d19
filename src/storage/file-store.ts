/**
 * The file store: the only module that knows how stored files are laid out under DATA_DIR.
 *
 * Layout (all paths the rest of segcat sees are relative to DATA_DIR, with `/` separators):
 *   originals/<aa>/<sha256>.<ext>      content-addressed originals
 *   thumbnails/<aa>/<sha256>.webp      grid thumbnails
 *   masks/<imageId>/<recipe name>.png  one mask per segment, plus m<root>.background.png
 *   cutouts/<segmentId>/<background>.<ext>
 *   overlays/<imageId>/<stamp>.jpg     cached overlay pictures
 *   tmp/                               uploads in flight (multipart spools too); emptied on start
 *   quarantine/<run>/<relative path>   files no row pointed to, kept SEGCAT_QUARANTINE_DAYS; never served
 *   catalogue.json                     the id of the catalogue these files belong to (catalogue-identity.ts)
 *
 * Every write goes to a temporary name in the same directory, is fsynced, then renamed, so a crash
 * never leaves a half-written file under a name a database row points to. A write that finds the
 * disk full removes what it wrote and throws InsufficientStorageError.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { Quarantine } from './quarantine.js';
import { InsufficientStorageError } from '../services/errors.js';

/** Thrown when a stream is longer than the limit it was received under. */
export class FileTooLargeError extends Error {
  override name = 'FileTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`the file is larger than the limit of ${limitBytes} bytes`);
  }
}

/**
 * Thrown when the stream being received failed on the sender's side (the client went away, or its
 * multipart body was malformed), as opposed to the store failing to write. `status` is the HTTP
 * status the stream's error carried, if any (413 when the parser's own size limit tripped).
 */
export class IncomingStreamError extends Error {
  override name = 'IncomingStreamError';
  readonly status: number | undefined;
  constructor(cause: Error) {
    super(cause.message, { cause });
    const status = (cause as { status?: unknown }).status;
    this.status = typeof status === 'number' ? status : undefined;
  }
}

/** A received upload, still under its temporary name. */
export interface TempFile {
  /** Absolute path of the temporary file. */
  path: string;
  bytes: number;
  sha256: string;
}

const EXTENSION_BY_MIME: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/avif': 'avif',
  'image/tiff': 'tiff',
};

/** Directories that hold files the store wrote; only these are ever served. */
const SERVED_ROOTS = ['originals', 'thumbnails', 'masks', 'cutouts', 'overlays'] as const;

/** One of the directories of stored files. */
export type StoredRoot = (typeof SERVED_ROOTS)[number];

/**
 * Whose a stored file is: `key` is the sha256 of the bytes (originals, thumbnails), the image id
 * (masks, overlays) or the segment id (cut-outs).
 */
export interface FileOwner {
  root: StoredRoot;
  key: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * How often, and how far apart (growing linearly), removing a directory that a concurrent writer
 * keeps non-empty is tried again: up to about a second in all.
 */
const REMOVE_RETRIES = 8;
const REMOVE_RETRY_DELAY_MS = 25;

/** Media type of a stored file, from its extension; undefined for anything the store never serves. */
export function contentTypeOf(relativePath: string): string | undefined {
  const extension = path.extname(relativePath).slice(1).toLowerCase();
  if (extension === 'jpg') return 'image/jpeg';
  return Object.entries(EXTENSION_BY_MIME).find(([, ext]) => ext === extension)?.[0];
}

/** Stores and finds segcat's files under one data directory. */
export class FileStore {
  readonly root: string;
  /** `root` with symlinks resolved, known after init(). */
  private realRoot: string | undefined;

  /** DATA_DIR/quarantine/: where unreferenced files go instead of being deleted. */
  readonly quarantine: Quarantine;

  constructor(dataDir: string) {
    this.root = path.resolve(dataDir);
    this.quarantine = new Quarantine(this.root);
  }

  /**
   * Creates the directories and removes temporary files a crash may have left; returns how many.
   * With `olderThanMs`, only those older than that: other processes sharing DATA_DIR may be
   * writing theirs right now.
   */
  async init(olderThanMs?: number): Promise<number> {
    await fs.mkdir(this.tmpDir(), { recursive: true });
    for (const dir of SERVED_ROOTS) await fs.mkdir(path.join(this.root, dir), { recursive: true });
    this.realRoot = await fs.realpath(this.root);
    return this.removeTempFiles(olderThanMs);
  }

  /** Relative path of an original. */
  originalPath(sha256: string, mimeType: string): string {
    return `originals/${sha256.slice(0, 2)}/${sha256}.${EXTENSION_BY_MIME[mimeType] ?? 'bin'}`;
  }

  /** Relative path of a thumbnail. */
  thumbnailPath(sha256: string): string {
    return `thumbnails/${sha256.slice(0, 2)}/${sha256}.webp`;
  }

  /** Relative directory of an image's masks. */
  maskDir(imageId: string): string {
    return `masks/${imageId}`;
  }

  /**
   * Directories holding files derived from an image (masks, overlays) and from its segments
   * (cut-outs), removed with it. They are named after ids no other row will ever have.
   */
  derivedDirs(imageId: string, segmentIds: readonly string[] = []): string[] {
    return [this.maskDir(imageId), this.overlayDir(imageId), ...segmentIds.map((id) => this.cutoutDir(id))];
  }

  /** Relative directory of a segment's cut-outs. */
  cutoutDir(segmentId: string): string {
    return `cutouts/${segmentId}`;
  }

  /** Relative path of a cut-out. */
  cutoutPath(segmentId: string, background: string, format: string): string {
    return `${this.cutoutDir(segmentId)}/${background.toLowerCase()}.${format.toLowerCase()}`;
  }

  /**
   * The row a stored file belongs to, read from where it sits: the sha256 of an original or
   * thumbnail, the image id of a mask or overlay, the segment id of a cut-out. Undefined for a
   * path outside that layout.
   */
  ownerOf(relativePath: string): FileOwner | undefined {
    const [root, folder, ...rest] = relativePath.split('/');
    if (root === 'originals' || root === 'thumbnails') {
      const sha256 = /^([0-9a-f]{64})\.[a-z]+$/.exec(rest.join('/'))?.[1];
      return sha256 && folder === sha256.slice(0, 2) ? { root, key: sha256 } : undefined;
    }
    if ((root === 'masks' || root === 'overlays' || root === 'cutouts') && UUID.test(folder ?? '') && rest.length > 0) {
      return { root, key: folder! };
    }
    return undefined;
  }

  /** Relative path of a cached overlay picture; `stamp` changes when the segments do. */
  overlayPath(imageId: string, stamp: string): string {
    return `${this.overlayDir(imageId)}/${stamp}.jpg`;
  }

  private overlayDir(imageId: string): string {
    return `overlays/${imageId}`;
  }

  /** Absolute path of a stored file. */
  absolute(relativePath: string): string {
    return path.join(this.root, relativePath);
  }

  /**
   * Streams `source` into a temporary file, hashing it on the way, and stops as soon as it passes
   * `maxBytes`. The caller commits it with `commitTemp` or drops it with `discardTemp`.
   */
  async receive(source: Readable, maxBytes: number): Promise<TempFile> {
    const tempPath = path.join(this.tmpDir(), `${randomUUID()}.upload`);
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > maxBytes) return callback(new FileTooLargeError(maxBytes));
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tempPath, { flags: 'wx', mode: 0o640 }));
    } catch (error) {
      source.resume();
      await fs.rm(tempPath, { force: true });
      // The multipart spool the source reads from is on this disk too.
      if (isDiskFull(error) || isDiskFull(source.errored)) throw new InsufficientStorageError({ cause: error });
      if (!(error instanceof FileTooLargeError) && source.errored) throw new IncomingStreamError(source.errored);
      throw error;
    }
    return { path: tempPath, bytes, sha256: hash.digest('hex') };
  }

  /** The first `bytes` bytes of a received temporary file (fewer if it is shorter). */
  async readTempHead(temp: TempFile, bytes: number): Promise<Buffer> {
    const handle = await fs.open(temp.path, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(bytes, temp.bytes));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** Moves a received temporary file to its final relative path, durably. */
  async commitTemp(temp: TempFile, relativePath: string): Promise<void> {
    const target = this.absolute(relativePath);
    await storing(async () => {
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fsyncPath(temp.path);
      await fs.rename(temp.path, target);
      await fsyncPath(path.dirname(target));
    });
  }

  /** Removes a temporary file that will not be kept. */
  async discardTemp(temp: TempFile | string): Promise<void> {
    await fs.rm(typeof temp === 'string' ? temp : temp.path, { force: true });
  }

  /** Writes bytes under a relative path: temp name, fsync, rename. */
  async write(relativePath: string, data: Buffer): Promise<void> {
    const target = this.absolute(relativePath);
    const temp = `${target}.${randomUUID()}.tmp`;
    await storing(async () => {
      await fs.mkdir(path.dirname(target), { recursive: true });
      try {
        const handle = await fs.open(temp, 'wx', 0o640);
        try {
          await handle.writeFile(data);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.rename(temp, target);
      } catch (error) {
        await fs.rm(temp, { force: true });
        throw error;
      }
      await fsyncPath(path.dirname(target));
    });
  }

  /** Bytes free in DATA_DIR's filesystem for an unprivileged writer (what /health reports). */
  async freeBytes(): Promise<number> {
    const stats = await fs.statfs(this.root);
    return stats.bavail * stats.bsize;
  }

  /** Whether a stored file exists. */
  async exists(relativePath: string): Promise<boolean> {
    return fs.access(this.absolute(relativePath), fsConstants.F_OK).then(
      () => true,
      () => false,
    );
  }

  /** Reads a stored file. */
  async read(relativePath: string): Promise<Buffer> {
    return fs.readFile(this.absolute(relativePath));
  }

  /**
   * Removes stored files and directories; missing ones are fine. A directory that another
   * process is still writing into (ENOTEMPTY) is tried again for a while, until the writer has
   * finished; a writer that finds its owner gone removes what it wrote itself.
   */
  async remove(relativePaths: Iterable<string>): Promise<void> {
    for (const relativePath of relativePaths) {
      await fs.rm(this.absolute(relativePath), { force: true, recursive: true, maxRetries: REMOVE_RETRIES, retryDelay: REMOVE_RETRY_DELAY_MS });
    }
  }

  /**
   * Maps a URL path below /files/ to a stored file, or undefined when it is not one the store
   * wrote: no `..`, no absolute paths, no hidden or temporary names, only the served roots, and
   * no symlinks anywhere along the way.
   */
  async resolveServed(urlPath: string): Promise<{ absolutePath: string; contentType: string } | undefined> {
    const segments = urlPath.split('/');
    const valid =
      segments.length >= 2 &&
      (SERVED_ROOTS as readonly string[]).includes(segments[0]!) &&
      segments.every((segment) => /^[A-Za-z0-9_][A-Za-z0-9_.\-]*$/.test(segment) && !segment.includes('..'));
    const contentType = valid ? contentTypeOf(urlPath) : undefined;
    if (!contentType || urlPath.endsWith('.tmp')) return undefined;
    const absolutePath = path.join(this.root, ...segments);
    try {
      // DATA_DIR itself may sit behind a symlink (/tmp on macOS, a mounted volume); below it, none.
      const real = await fs.realpath(absolutePath);
      const stat = await fs.lstat(absolutePath);
      if (real !== path.join(this.realRoot ?? this.root, ...segments) || !stat.isFile()) return undefined;
    } catch {
      return undefined;
    }
    return { absolutePath, contentType };
  }

  /** Relative paths of every stored file (temporary names left out), for integrity checks. */
  async listStoredFiles(): Promise<string[]> {
    const files: string[] = [];
    for (const root of SERVED_ROOTS) files.push(...(await this.listFiles(root)).filter((file) => !file.endsWith('.tmp')));
    return files;
  }

  /** When a stored file was last written (ms since the epoch), or undefined when it is gone. */
  async modifiedAt(relativePath: string): Promise<number | undefined> {
    return (await fs.stat(this.absolute(relativePath)).catch(() => undefined))?.mtimeMs;
  }

  /** Relative paths of every file under a served root, for reconciliation. */
  async listFiles(root: (typeof SERVED_ROOTS)[number]): Promise<string[]> {
    const base = path.join(this.root, root);
    const entries = await fs.readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(this.root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
  }

  /**
   * `message` with DATA_DIR's absolute path replaced by `DATA_DIR`: error messages from sharp and
   * the filesystem name files, and clients must not learn where the server keeps them.
   */
  redactPaths(message: string): string {
    let redacted = message;
    for (const root of new Set([this.realRoot, this.root])) {
      if (root) redacted = redacted.split(root).join('DATA_DIR');
    }
    return redacted;
  }

  /** Absolute path of tmp/: files in flight, which start-up clean-up removes. */
  tmpDir(): string {
    return path.join(this.root, 'tmp');
  }

  /** Removes uploads in flight and half-written files left by a crash. */
  private async removeTempFiles(olderThanMs?: number): Promise<number> {
    const candidates = (await fs.readdir(this.tmpDir())).map((entry) => path.join(this.tmpDir(), entry));
    for (const root of SERVED_ROOTS) {
      for (const file of await this.listFiles(root)) if (file.endsWith('.tmp')) candidates.push(this.absolute(file));
    }
    let removed = 0;
    for (const file of candidates) {
      if (!(await isStale(file, olderThanMs))) continue;
      await fs.rm(file, { force: true, recursive: true });
      removed += 1;
    }
    return removed;
  }
}

/** Whether an error, or one it was caused by, says the disk or the user's quota is full. */
export function isDiskFull(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

/** Runs a write; a full disk becomes InsufficientStorageError, whose message names no path. */
async function storing(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    throw isDiskFull(error) ? new InsufficientStorageError({ cause: error }) : error;
  }
}

/** Whether a file was last written more than `olderThanMs` ago (always, without a threshold). */
async function isStale(file: string, olderThanMs: number | undefined): Promise<boolean> {
  if (olderThanMs === undefined) return true;
  const stat = await fs.stat(file).catch(() => undefined);
  return stat !== undefined && Date.now() - stat.mtimeMs >= olderThanMs;
}

/** Flushes a file, or a directory so that a rename in it is durable, to the disk. */
async function fsyncPath(target: string): Promise<void> {
  const handle = await fs.open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
