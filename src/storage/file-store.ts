/**
 * The file store: reads, writes, lists and serves segcat's files under one data directory. Where
 * each file goes is layout.ts's business; how a write is made durable, atomic-write.ts's.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { moveIntoPlace, receiveToTemp, writeAtomically, type TempFile } from './atomic-write.js';
import { contentTypeOf, RECORDED_ROOTS, SERVED_ROOTS, type StoredRoot } from './layout.js';
import { readHead } from './local-files.js';
import { Quarantine } from './quarantine.js';

/**
 * How often, and how far apart (growing linearly), removing a directory that a concurrent writer
 * keeps non-empty is tried again: up to about a second in all.
 */
const REMOVE_RETRIES = 8;
const REMOVE_RETRY_DELAY_MS = 25;

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

  /** Absolute path of a stored file. */
  absolute(relativePath: string): string {
    return path.join(this.root, relativePath);
  }

  /**
   * Streams `source` into a temporary file, hashing it on the way, and stops as soon as it passes
   * `maxBytes`. The caller commits it with `commitTemp` or drops it with `discardTemp`.
   */
  async receive(source: Readable, maxBytes: number): Promise<TempFile> {
    return receiveToTemp(source, this.tmpDir(), maxBytes);
  }

  /** The first `bytes` bytes of a received temporary file (fewer if it is shorter). */
  async readTempHead(temp: TempFile, bytes: number): Promise<Buffer> {
    return readHead(temp.path, Math.min(bytes, temp.bytes));
  }

  /** Moves a received temporary file to its final relative path, durably. */
  async commitTemp(temp: TempFile, relativePath: string): Promise<void> {
    await moveIntoPlace(temp.path, this.absolute(relativePath));
  }

  /** Removes a temporary file that will not be kept. */
  async discardTemp(temp: TempFile | string): Promise<void> {
    await fs.rm(typeof temp === 'string' ? temp : temp.path, { force: true });
  }

  /** Writes bytes under a relative path: temp name, fsync, rename. */
  async write(relativePath: string, data: Buffer): Promise<void> {
    await writeAtomically(this.absolute(relativePath), data);
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

  /** Relative paths of every stored file rows point to (temporary names left out), for integrity checks. */
  async listStoredFiles(): Promise<string[]> {
    const files: string[] = [];
    for (const root of RECORDED_ROOTS) files.push(...(await this.listFiles(root)).filter((file) => !file.endsWith('.tmp')));
    return files;
  }

  /** When a stored file was last written (ms since the epoch), or undefined when it is gone. */
  async modifiedAt(relativePath: string): Promise<number | undefined> {
    return (await fs.stat(this.absolute(relativePath)).catch(() => undefined))?.mtimeMs;
  }

  /** Relative paths of every file under a served root, for reconciliation. */
  async listFiles(root: StoredRoot): Promise<string[]> {
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

/** Whether a file was last written more than `olderThanMs` ago (always, without a threshold). */
async function isStale(file: string, olderThanMs: number | undefined): Promise<boolean> {
  if (olderThanMs === undefined) return true;
  const stat = await fs.stat(file).catch(() => undefined);
  return stat !== undefined && Date.now() - stat.mtimeMs >= olderThanMs;
}
