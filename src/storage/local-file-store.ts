/**
 * The filesystem backend of the file store (STORAGE=fs, the default): stored files under DATA_DIR,
 * each written to a temporary name, fsynced and renamed (atomic-write.ts).
 */
import { randomUUID } from 'node:crypto';
import { constants as fsConstants, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InsufficientStorageError } from '../services/errors.js';
import { isDiskFull, moveIntoPlace, writeAllAtomically, writeAtomically, type TempFile } from './atomic-write.js';
import { StoredFileMissingError, type FileStore, type ListOptions, type ServedSource, type StoredEntry, type StoredFileData, type StoredFileInfo } from './file-store.js';
import { RECORDED_ROOTS, SERVED_ROOTS, servedContentType, type StoredRoot } from './layout.js';
import { LocalSpool } from './local-spool.js';
import { Quarantine } from './quarantine.js';
import { SectionedFile } from './sectioned-file.js';

/**
 * How often, and how far apart (growing linearly), removing a directory that a concurrent writer
 * keeps non-empty is tried again: up to about a second in all.
 */
const REMOVE_RETRIES = 8;
const REMOVE_RETRY_DELAY_MS = 25;

/** Entries per page of a listing, unless asked otherwise. */
const LIST_PAGE_SIZE = 1000;

/** Stores and finds segcat's files under one data directory. */
export class LocalFileStore implements FileStore {
  readonly kind = 'fs';
  readonly root: string;
  readonly location: string;
  readonly locationSettings = 'DATA_DIR';
  /** DATA_DIR/quarantine/. */
  readonly quarantine: Quarantine;
  private readonly spool: LocalSpool;
  /** `root` with symlinks resolved, known after init(). */
  private realRoot: string | undefined;

  constructor(dataDir: string) {
    this.root = path.resolve(dataDir);
    this.location = `DATA_DIR ${this.root}`;
    this.quarantine = new Quarantine(this.root);
    this.spool = new LocalSpool(this.root);
  }

  async init(olderThanMs?: number): Promise<number> {
    await this.spool.init();
    for (const dir of SERVED_ROOTS) await fs.mkdir(path.join(this.root, dir), { recursive: true });
    this.realRoot = await fs.realpath(this.root);
    // Half-written files beside their targets, as well as uploads in flight.
    const halfWritten: string[] = [];
    for (const root of SERVED_ROOTS) {
      for (const file of await this.allFiles(root)) if (file.endsWith('.tmp')) halfWritten.push(this.absolute(file));
    }
    return this.spool.removeStale(olderThanMs, halfWritten);
  }

  /** Absolute path of a stored file. */
  absolute(relativePath: string): string {
    return path.join(this.root, relativePath);
  }

  where(relativePath: string): string {
    return this.absolute(relativePath);
  }

  receive(source: Readable, maxBytes: number): Promise<TempFile> {
    return this.spool.receive(source, maxBytes);
  }

  readTempHead(temp: TempFile, bytes: number): Promise<Buffer> {
    return this.spool.readHead(temp, bytes);
  }

  async commitTemp(temp: TempFile, relativePath: string): Promise<void> {
    await moveIntoPlace(temp.path, this.absolute(relativePath));
  }

  discardTemp(temp: TempFile | string): Promise<void> {
    return this.spool.discard(temp);
  }

  tmpDir(): string {
    return this.spool.dir;
  }

  async write(relativePath: string, data: Buffer): Promise<void> {
    await writeAtomically(this.absolute(relativePath), data);
  }

  /** One fsync pass for the batch (writeAllAtomically). */
  async writeMany(files: readonly StoredFileData[]): Promise<void> {
    await writeAllAtomically(files.map((file) => ({ target: this.absolute(file.path), data: file.data })));
  }

  /** Streams to a temporary name beside the target, then moves it into place durably. */
  async writeStream(relativePath: string, source: Readable): Promise<void> {
    const target = this.absolute(relativePath);
    const temp = `${target}.${randomUUID()}.tmp`;
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      await pipeline(source, createWriteStream(temp, { flags: 'wx', mode: 0o640 }));
      await moveIntoPlace(temp, target);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw isDiskFull(error) ? new InsufficientStorageError({ cause: error }) : error;
    }
  }

  createSectionedFile(relativePath: string, sections: number): Promise<SectionedFile> {
    return SectionedFile.create(this.absolute(relativePath), sections);
  }

  async read(relativePath: string): Promise<Buffer> {
    return fs.readFile(this.absolute(relativePath)).catch((error: unknown) => {
      throw this.missing(error, relativePath);
    });
  }

  async readStream(relativePath: string): Promise<Readable> {
    const handle = await fs.open(this.absolute(relativePath), 'r').catch((error: unknown) => {
      throw this.missing(error, relativePath);
    });
    return handle.createReadStream();
  }

  async exists(relativePath: string): Promise<boolean> {
    return fs.access(this.absolute(relativePath), fsConstants.F_OK).then(
      () => true,
      () => false,
    );
  }

  async stat(relativePath: string): Promise<StoredFileInfo | undefined> {
    const stat = await fs.stat(this.absolute(relativePath)).catch(() => undefined);
    return stat?.isFile() ? { bytes: stat.size, modifiedAt: stat.mtimeMs } : undefined;
  }

  async modifiedAt(relativePath: string): Promise<number | undefined> {
    return (await fs.stat(this.absolute(relativePath)).catch(() => undefined))?.mtimeMs;
  }

  /**
   * A directory that another process is still writing into (ENOTEMPTY) is tried again for a while,
   * until the writer has finished; a writer that finds its owner gone removes what it wrote itself.
   */
  async remove(relativePaths: Iterable<string>): Promise<void> {
    for (const relativePath of relativePaths) {
      await fs.rm(this.absolute(relativePath), { force: true, recursive: true, maxRetries: REMOVE_RETRIES, retryDelay: REMOVE_RETRY_DELAY_MS });
    }
  }

  async *list(root: StoredRoot, options: ListOptions = {}): AsyncIterable<StoredEntry[]> {
    const pageSize = options.pageSize ?? LIST_PAGE_SIZE;
    const files = (await this.allFiles(root)).filter((file) => !file.endsWith('.tmp')).sort();
    for (let start = 0; start < files.length; start += pageSize) {
      const page: StoredEntry[] = [];
      for (const file of files.slice(start, start + pageSize)) {
        const info = await this.stat(file);
        if (info) page.push({ path: file, bytes: info.bytes, modifiedAt: info.modifiedAt });
      }
      yield page;
    }
  }

  /** Relative paths of every file under a root, temporary names included (reconciliation removes those). */
  async listFiles(root: StoredRoot): Promise<string[]> {
    return this.allFiles(root);
  }

  async listStoredFiles(): Promise<string[]> {
    const files: string[] = [];
    for (const root of RECORDED_ROOTS) files.push(...(await this.allFiles(root)).filter((file) => !file.endsWith('.tmp')));
    return files;
  }

  /** Also refuses symlinks anywhere below DATA_DIR. */
  async served(urlPath: string): Promise<ServedSource | undefined> {
    if (!servedContentType(urlPath)) return undefined;
    const segments = urlPath.split('/');
    const absolutePath = path.join(this.root, ...segments);
    try {
      // DATA_DIR itself may sit behind a symlink (/tmp on macOS, a mounted volume); below it, none.
      const real = await fs.realpath(absolutePath);
      const stat = await fs.lstat(absolutePath);
      if (real !== path.join(this.realRoot ?? this.root, ...segments) || !stat.isFile()) return undefined;
    } catch {
      return undefined;
    }
    return { kind: 'local', path: absolutePath };
  }

  async presignedUrl(): Promise<undefined> {
    return undefined;
  }

  /** Bytes free in DATA_DIR's filesystem for an unprivileged writer. */
  async freeBytes(): Promise<number> {
    const stats = await fs.statfs(this.root);
    return stats.bavail * stats.bsize;
  }

  async ping(): Promise<void> {
    await fs.access(this.root);
  }

  redactPaths(message: string): string {
    let redacted = message;
    for (const root of new Set([this.realRoot, this.root])) {
      if (root) redacted = redacted.split(root).join('DATA_DIR');
    }
    return redacted;
  }

  observe(): void {}

  async close(): Promise<void> {}

  private missing(error: unknown, relativePath: string): unknown {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? new StoredFileMissingError(relativePath, this.where(relativePath)) : error;
  }

  /** Relative paths of every file under a root. */
  private async allFiles(root: StoredRoot): Promise<string[]> {
    const base = path.join(this.root, root);
    const entries = await fs.readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(this.root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
  }
}
