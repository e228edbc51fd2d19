/**
 * The file store: the one interface through which segcat reads, writes, lists and serves its
 * stored files (originals, thumbnails, masks, cut-outs, overlays, exports, the catalogue marker),
 * whichever backend holds them. Where each file goes is layout.ts's business; paths here are
 * always relative, with `/` separators (`masks/<imageId>/<model>/<name>.png`).
 *
 * Two backends implement it: the filesystem under DATA_DIR (local-file-store.ts, the default) and
 * an S3-compatible bucket (s3-file-store.ts, STORAGE=s3). Uploads in flight are always spooled on
 * the local disk (DATA_DIR/tmp), since they are checked before they are kept.
 *
 * Glossary:
 *  - stored file: a file under one of layout.ts's roots, written by the store; with S3, an object
 *    whose key is S3_PREFIX followed by the relative path.
 *  - folder: a relative path that other stored files sit below (`masks/<imageId>`); removing it
 *    removes them all (with S3, every key under that prefix).
 *  - temporary file: an upload being received, on the local disk, not yet a stored file.
 */
import type { Readable } from 'node:stream';
import type { StorageObserver } from '../observability/probes.js';
import type { TempFile } from './atomic-write.js';
import type { StoredRoot } from './layout.js';
import type { SectionedFile } from './sectioned-file.js';

/** One stored file as a listing shows it. */
export interface StoredEntry {
  /** Relative path. */
  path: string;
  bytes: number;
  /** When it was last written, in ms since the epoch. */
  modifiedAt: number;
}

/** What the store knows about one stored file without reading it. */
export interface StoredFileInfo {
  bytes: number;
  /** When it was last written, in ms since the epoch. */
  modifiedAt: number;
  /** The sha256 of its bytes when the store recorded it on writing (S3 metadata), else undefined. */
  sha256?: string;
}

/** One file of a batch write. */
export interface StoredFileData {
  /** Relative path. */
  path: string;
  data: Buffer;
}

/** An object read for /files: unchanged since the client's copy, or its bytes. */
export type ObjectRead =
  | { notModified: true; etag: string }
  | { notModified: false; stream: Readable; bytes?: number; etag?: string; lastModified?: Date };

/**
 * Where /files finds a stored file's bytes: a local file (sent by path, with ranges and
 * conditional requests), or an object to open, which resolves to undefined when it is gone.
 */
export type ServedSource =
  | { kind: 'local'; path: string }
  | { kind: 'object'; open(conditions: { ifNoneMatch?: string }): Promise<ObjectRead | undefined> };

/** One quarantine run: the files it moves share a run folder. */
export interface QuarantineRun {
  /** Moves a stored file into the run folder, keeping its relative path below it; false when it is gone. */
  move(relativePath: string): Promise<boolean>;
}

/**
 * `quarantine/`: where stored files that no row points to go instead of being deleted (see
 * quarantine.ts). A quarantined file's time is when it arrived there.
 */
export interface QuarantineStore {
  /** Starts a run, whose files go into a new run folder `quarantine/<UTC time>-<random>/`. */
  startRun(): QuarantineRun;
  /** Deletes quarantined files that arrived more than `olderThanMs` ago; returns how many. */
  purge(olderThanMs: number): Promise<number>;
}

/** Options of a listing. */
export interface ListOptions {
  /** Most entries per page (the S3 backend asks for this many per request). */
  pageSize?: number;
}

/**
 * Thrown when a stored file that is read does not exist; `code` is ENOENT, as for a missing file.
 * The message names it as `where` does (redactPaths turns DATA_DIR's path into `DATA_DIR`).
 */
export class StoredFileMissingError extends Error {
  override name = 'StoredFileMissingError';
  readonly code = 'ENOENT';
  constructor(
    readonly relativePath: string,
    where: string,
  ) {
    super(`${where}: no such file`);
  }
}

/**
 * Thrown when a file cannot be served now because every connection for serving files is busy
 * (S3_SERVED_READS downloads in flight); the client should retry in `retryAfterSeconds`.
 */
export class StoreBusyError extends Error {
  override name = 'StoreBusyError';
  readonly code = 'STORE_BUSY';
  readonly retryAfterSeconds = 1;
}

/** Stores and finds segcat's files. */
export interface FileStore {
  /** Which backend: `fs` (DATA_DIR) or `s3` (a bucket). */
  readonly kind: 'fs' | 's3';
  /** Where the files are, as messages name it: `DATA_DIR /srv/segcat` or `bucket s3://photos/segcat/`. */
  readonly location: string;
  /** The settings that choose that place, as messages name them: `DATA_DIR`, or `S3_BUCKET and S3_PREFIX`. */
  readonly locationSettings: string;
  /** Files no row pointed to, kept a while before they are deleted. */
  readonly quarantine: QuarantineStore;

  /**
   * Checks the store can be used (the bucket exists and answers), prepares it, and removes what a
   * crash left in flight (temporary files; unfinished multipart uploads); returns how many. With
   * `olderThanMs`, only what is older than that: other processes may be writing theirs right now.
   */
  init(olderThanMs?: number): Promise<number>;

  /**
   * Streams `source` into a temporary file on the local disk, hashing it on the way, and stops as
   * soon as it passes `maxBytes`. The caller commits it with `commitTemp` or drops it with `discardTemp`.
   */
  receive(source: Readable, maxBytes: number): Promise<TempFile>;
  /** The first `bytes` bytes of a received temporary file (fewer if it is shorter). */
  readTempHead(temp: TempFile, bytes: number): Promise<Buffer>;
  /** Stores a received temporary file under a relative path, durably; the temporary file may be gone afterwards. */
  commitTemp(temp: TempFile, relativePath: string): Promise<void>;
  /** Removes a temporary file that will not be kept. */
  discardTemp(temp: TempFile | string): Promise<void>;
  /** Absolute path of the local folder for files in flight (multipart spools too), which `init` empties. */
  tmpDir(): string;

  /** Writes bytes under a relative path, whole or not at all. */
  write(relativePath: string, data: Buffer): Promise<void>;
  /**
   * Writes several files, each whole or not at all (the filesystem makes them durable together; S3
   * puts them in parallel). Every write is finished, or has failed, when it settles; the first
   * failure is thrown.
   */
  writeMany(files: readonly StoredFileData[]): Promise<void>;
  /**
   * Writes a stream under a relative path, whole or not at all (with S3, in parts above the
   * multipart threshold). `sha256`, when the caller knows it, is recorded with the file.
   */
  writeStream(relativePath: string, source: Readable, options?: { sha256?: string }): Promise<void>;
  /** Starts writing a file in `sections` that grow at the same time (an export); nothing is stored until its commit. */
  createSectionedFile(relativePath: string, sections: number): Promise<SectionedFile>;

  /** Reads a stored file; throws StoredFileMissingError when there is none. */
  read(relativePath: string): Promise<Buffer>;
  /** A stream of a stored file's bytes; throws StoredFileMissingError when there is none. */
  readStream(relativePath: string): Promise<Readable>;
  /** Whether a stored file exists. */
  exists(relativePath: string): Promise<boolean>;
  /** Size and time of a stored file, or undefined when it is gone. */
  stat(relativePath: string): Promise<StoredFileInfo | undefined>;
  /** When a stored file was last written (ms since the epoch), or undefined when it is gone. */
  modifiedAt(relativePath: string): Promise<number | undefined>;
  /**
   * Removes stored files and folders (everything below them); missing ones are fine. Files that a
   * concurrent writer adds to a folder being removed are that writer's to remove: it finds its
   * owner gone.
   */
  remove(relativePaths: Iterable<string>): Promise<void>;

  /** The stored files under a root, in pages (in key order for S3); temporary names left out. */
  list(root: StoredRoot, options?: ListOptions): AsyncIterable<StoredEntry[]>;
  /** Relative paths of every file under a root, for reconciliation. */
  listFiles(root: StoredRoot): Promise<string[]>;
  /** Relative paths of every stored file rows point to, for integrity checks. */
  listStoredFiles(): Promise<string[]>;

  /**
   * Where to find the bytes of a URL path below /files/, or undefined when it is not a file the
   * store wrote: no `..`, no absolute paths, no hidden or temporary names, only the served roots.
   */
  served(urlPath: string): Promise<ServedSource | undefined>;
  /** A URL that reads a stored file directly for a short while (S3_PRESIGN); undefined when the store gives none. */
  presignedUrl(relativePath: string): Promise<string | undefined>;

  /** Bytes free for new files (what /health and the metrics report); absent when there is no such limit (object storage). */
  freeBytes?(): Promise<number>;
  /** Throws when the store cannot be reached (the bucket does not answer). */
  ping(): Promise<void>;
  /** How an operator finds a stored file: its absolute path, or its `s3://bucket/key`. */
  where(relativePath: string): string;
  /**
   * `message` with the local data folder's absolute path replaced by `DATA_DIR`: error messages from
   * sharp and the filesystem name files, and clients must not learn where the server keeps them.
   */
  redactPaths(message: string): string;
  /** Reports failed requests to the object store to `observer` (the metrics); the filesystem has none. */
  observe(observer: StorageObserver): void;
  /** Closes connections to the object store; the store is not used afterwards. */
  close(): Promise<void>;
}
