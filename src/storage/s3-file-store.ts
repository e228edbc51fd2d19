/**
 * The S3 backend of the file store (STORAGE=s3): each stored file is an object whose key is
 * S3_PREFIX followed by its relative path, in one bucket of any S3-compatible server (AWS, MinIO,
 * Ceph RGW, OpenStack Swift's s3api, R2, Garage).
 *
 * A PUT is atomic (an object appears whole or not at all), so the filesystem's temporary names and
 * fsyncs have no counterpart here; what a crash can leave is an unfinished multipart upload, which
 * `init` aborts. Uploads are received on the local disk first (DATA_DIR/tmp), checked, and only
 * then uploaded, before the row that points to them is written. A folder is a key prefix: removing
 * `masks/<imageId>` deletes every key below it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { StorageObserver } from '../observability/probes.js';
import type { TempFile } from './atomic-write.js';
import { StoredFileMissingError, type FileStore, type ListOptions, type QuarantineRun, type QuarantineStore, type ServedSource, type StoredEntry, type StoredFileData, type StoredFileInfo } from './file-store.js';
import { contentTypeOf, RECORDED_ROOTS, servedContentType, type StoredRoot } from './layout.js';
import { LocalSpool } from './local-spool.js';
import { settleAll } from './parallel.js';
import { QUARANTINE_DIR, quarantineRunName } from './quarantine.js';
import { S3Objects, type ObjectInfo, type S3Settings } from './s3-objects.js';
import { SectionedFile } from './sectioned-file.js';

export type { S3Settings } from './s3-objects.js';

/** Tuning of the S3 backend; the defaults suit production, tests make them small. */
export interface S3StoreOptions {
  /** Objects per listing request (S3 allows at most 1000). */
  listPageSize?: number;
  /** Streams longer than this are uploaded in parts of this size; at least 5 MiB (S3's minimum part). */
  partSizeBytes?: number;
  /** Requests that writeMany and remove run at once. */
  concurrency?: number;
}

const DEFAULTS = { listPageSize: 1000, partSizeBytes: 8 * 1024 * 1024, concurrency: 8 };

/** Stores segcat's files as objects in one bucket, under one prefix. */
export class S3FileStore implements FileStore {
  readonly kind = 's3';
  readonly location: string;
  readonly locationSettings = 'S3_BUCKET and S3_PREFIX';
  readonly quarantine: QuarantineStore;
  private readonly objects: S3Objects;
  private readonly spool: LocalSpool;
  private readonly options: Required<S3StoreOptions>;

  /** `dataDir` holds the local spool (DATA_DIR/tmp) for uploads in flight. */
  constructor(
    private readonly settings: S3Settings,
    private readonly dataDir: string,
    options: S3StoreOptions = {},
  ) {
    this.options = {
      listPageSize: options.listPageSize ?? DEFAULTS.listPageSize,
      partSizeBytes: options.partSizeBytes ?? DEFAULTS.partSizeBytes,
      concurrency: options.concurrency ?? DEFAULTS.concurrency,
    };
    this.objects = new S3Objects(settings, this.options.partSizeBytes);
    this.spool = new LocalSpool(dataDir);
    this.location = `bucket s3://${settings.bucket}/${settings.prefix}`;
    this.quarantine = new S3Quarantine(this.objects, settings.prefix, this.options.listPageSize);
  }

  async init(olderThanMs?: number): Promise<number> {
    await this.objects.checkBucket();
    await this.spool.init();
    const temporary = await this.spool.removeStale(olderThanMs);
    return temporary + (await this.objects.abortUploads(this.settings.prefix, olderThanMs));
  }

  where(relativePath: string): string {
    return `s3://${this.settings.bucket}/${this.key(relativePath)}`;
  }

  receive(source: Readable, maxBytes: number): Promise<TempFile> {
    return this.spool.receive(source, maxBytes);
  }

  readTempHead(temp: TempFile, bytes: number): Promise<Buffer> {
    return this.spool.readHead(temp, bytes);
  }

  async commitTemp(temp: TempFile, relativePath: string): Promise<void> {
    await this.writeStream(relativePath, createReadStream(temp.path), { sha256: temp.sha256 });
  }

  discardTemp(temp: TempFile | string): Promise<void> {
    return this.spool.discard(temp);
  }

  tmpDir(): string {
    return this.spool.dir;
  }

  async write(relativePath: string, data: Buffer): Promise<void> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    await this.objects.put(this.key(relativePath), data, { contentType: contentTypeOf(relativePath), sha256 });
  }

  async writeMany(files: readonly StoredFileData[]): Promise<void> {
    await settleAll(files, this.options.concurrency, (file) => this.write(file.path, file.data));
  }

  async writeStream(relativePath: string, source: Readable, options: { sha256?: string } = {}): Promise<void> {
    await this.objects.upload(this.key(relativePath), source, { contentType: contentTypeOf(relativePath), sha256: options.sha256 });
  }

  /** Assembled in the local spool, uploaded on commit. */
  createSectionedFile(relativePath: string, sections: number): Promise<SectionedFile> {
    return SectionedFile.create(this.where(relativePath), sections, {
      tempDir: this.spool.dir,
      place: (joined) => this.writeStream(relativePath, createReadStream(joined)),
    });
  }

  async read(relativePath: string): Promise<Buffer> {
    const stream = await this.readStream(relativePath);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async readStream(relativePath: string): Promise<Readable> {
    const object = await this.objects.get(this.key(relativePath));
    if (!object || object.notModified) throw new StoredFileMissingError(relativePath, this.where(relativePath));
    return object.stream;
  }

  async exists(relativePath: string): Promise<boolean> {
    return (await this.objects.head(this.key(relativePath))) !== undefined;
  }

  async stat(relativePath: string): Promise<StoredFileInfo | undefined> {
    const info = await this.objects.head(this.key(relativePath));
    return info && { bytes: info.bytes, modifiedAt: info.lastModified.getTime(), sha256: info.sha256 };
  }

  async modifiedAt(relativePath: string): Promise<number | undefined> {
    return (await this.stat(relativePath))?.modifiedAt;
  }

  /** Deletes each path's object and every object below it (`<path>/…`). */
  async remove(relativePaths: Iterable<string>): Promise<void> {
    for (const relativePath of relativePaths) {
      const key = this.key(relativePath);
      const keys = [key];
      for await (const page of this.objects.list(`${key}/`, this.options.listPageSize)) keys.push(...page.map((object) => object.key));
      await settleAll(keys, this.options.concurrency, (each) => this.objects.delete(each));
    }
  }

  async *list(root: StoredRoot, options: ListOptions = {}): AsyncIterable<StoredEntry[]> {
    for await (const page of this.objects.list(this.key(`${root}/`), options.pageSize ?? this.options.listPageSize)) {
      yield page.map((object) => this.entry(object));
    }
  }

  async listFiles(root: StoredRoot): Promise<string[]> {
    const files: string[] = [];
    for await (const page of this.list(root)) files.push(...page.map((entry) => entry.path));
    return files;
  }

  async listStoredFiles(): Promise<string[]> {
    const files: string[] = [];
    for (const root of RECORDED_ROOTS) files.push(...(await this.listFiles(root)));
    return files;
  }

  async served(urlPath: string): Promise<ServedSource | undefined> {
    if (!servedContentType(urlPath)) return undefined;
    const key = this.key(urlPath);
    return { kind: 'object', open: ({ ifNoneMatch }) => this.objects.serve(key, { ifNoneMatch }) };
  }

  async presignedUrl(relativePath: string): Promise<string | undefined> {
    return this.settings.presign ? this.objects.presign(this.key(relativePath), this.settings.presignExpiresSeconds) : undefined;
  }

  ping(): Promise<void> {
    return this.objects.checkBucket();
  }

  /** Only the local spool is a path of ours; keys are relative paths already. */
  redactPaths(message: string): string {
    return message.split(path.resolve(this.dataDir)).join('DATA_DIR');
  }

  observe(observer: StorageObserver): void {
    this.objects.observe(observer);
  }

  async close(): Promise<void> {
    this.objects.close();
  }

  private key(relativePath: string): string {
    return `${this.settings.prefix}${relativePath}`;
  }

  private entry(object: ObjectInfo): StoredEntry {
    return { path: object.key.slice(this.settings.prefix.length), bytes: object.bytes, modifiedAt: object.lastModified.getTime() };
  }
}

/**
 * The quarantine as objects: a file is copied to `<prefix>quarantine/<run>/<path>` and then
 * deleted, so the copy's time (LastModified) is when it arrived; `purge` deletes copies older than
 * the retention.
 */
class S3Quarantine implements QuarantineStore {
  constructor(
    private readonly objects: S3Objects,
    private readonly prefix: string,
    private readonly pageSize: number,
  ) {}

  startRun(): QuarantineRun {
    const run = quarantineRunName();
    return {
      move: async (relativePath) => {
        const source = `${this.prefix}${relativePath}`;
        if (!(await this.objects.copy(source, `${this.prefix}${QUARANTINE_DIR}/${run}/${relativePath}`))) return false;
        await this.objects.delete(source);
        return true;
      },
    };
  }

  async purge(olderThanMs: number): Promise<number> {
    let purged = 0;
    for await (const page of this.objects.list(`${this.prefix}${QUARANTINE_DIR}/`, this.pageSize)) {
      for (const object of page) {
        if (Date.now() - object.lastModified.getTime() < olderThanMs) continue;
        await this.objects.delete(object.key);
        purged += 1;
      }
    }
    return purged;
  }
}
