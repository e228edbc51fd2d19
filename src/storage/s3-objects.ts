/**
 * The one module that talks to an S3-compatible server (`@aws-sdk/client-s3`): objects put, read,
 * listed, copied and deleted in one bucket, with the SDK's errors sorted into "not there" and real
 * failures, which are reported to the metrics. The store's semantics (paths, quarantine, folders)
 * are s3-file-store.ts's.
 */
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { StorageObserver, StorageOperation } from '../observability/probes.js';
import { StoreBusyError } from './file-store.js';

/** Where the bucket is and how to reach it (S3_* settings and the standard AWS credentials). */
export interface S3Settings {
  /** S3_ENDPOINT: the server's URL; undefined for AWS itself (the region decides). */
  endpoint: string | undefined;
  /** S3_BUCKET. */
  bucket: string;
  /** S3_REGION. */
  region: string;
  /** S3_PREFIX, normalised to '' or `<something>/`: every key starts with it. */
  prefix: string;
  /** S3_FORCE_PATH_STYLE: `<endpoint>/<bucket>/<key>` rather than `<bucket>.<endpoint>/<key>`. */
  forcePathStyle: boolean;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; undefined lets the SDK find credentials itself. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** S3_PRESIGN: `*Url` fields are presigned GET URLs rather than /files/ URLs. */
  presign: boolean;
  /** S3_PRESIGN_EXPIRES_SECONDS: how long a presigned URL works. */
  presignExpiresSeconds: number;
  /** S3_SERVED_READS: most downloads /files proxies at once, on connections of their own. */
  servedReads: number;
}

/** An object as a listing or HEAD shows it. */
export interface ObjectInfo {
  key: string;
  bytes: number;
  /** When it was written, at the latest (see writtenBy). */
  lastModified: Date;
  /** The sha256 the writer recorded in the object's metadata, if any. */
  sha256?: string;
}

/** What an object is stored with. */
export interface PutOptions {
  contentType?: string;
  /** Recorded as the object's `sha256` metadata. */
  sha256?: string;
}

/** An object being read: its bytes, or (with `ifNoneMatch`) word that the client's copy is current. */
export type ObjectBody =
  | { notModified: true; etag: string }
  | { notModified: false; stream: Readable; bytes?: number; etag?: string; lastModified?: Date };

/** The first page of a listing, or the one after `token`. */
interface ListPage {
  objects: ObjectInfo[];
  next: string | undefined;
}

/** Thrown when the bucket is missing or refuses us; the message says which setting to fix. */
export class BucketUnavailableError extends Error {
  override name = 'BucketUnavailableError';
}

/** Time allowed to open a connection to the server, and for a request with no progress. */
const CONNECTION_TIMEOUT_MS = 5_000;
const IDLE_SOCKET_TIMEOUT_MS = 60_000;

/** Connections for segcat's own requests (uploads, jobs, checks): the SDK's default. */
const OWN_CONNECTIONS = 50;

/** Objects of one bucket. */
export class S3Objects {
  readonly client: S3Client;
  /**
   * The client of downloads that /files proxies, on a pool of connections of its own: a client
   * that reads slowly (or not at all) holds its download's connection until the idle timeout, and
   * must not hold one that an upload or a job needs.
   */
  private readonly servingClient: S3Client;
  private readonly servingSlots: Slots;
  private observer: StorageObserver | undefined;

  constructor(
    private readonly settings: S3Settings,
    /** Streams longer than this many bytes are uploaded in parts of this size (S3's minimum part is 5 MiB). */
    private readonly partSizeBytes: number,
  ) {
    const client = (connections: number) =>
      new S3Client({
        endpoint: settings.endpoint,
        region: settings.region,
        forcePathStyle: settings.forcePathStyle,
        credentials: settings.credentials,
        // Checksums beyond Content-MD5 only where S3 demands them: S3-compatible servers (Swift,
        // older MinIO and Ceph) refuse the newer checksum headers and aws-chunked trailers.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: {
          connectionTimeout: CONNECTION_TIMEOUT_MS,
          socketTimeout: IDLE_SOCKET_TIMEOUT_MS,
          httpAgent: new HttpAgent({ keepAlive: true, maxSockets: connections }),
          httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: connections }),
        },
      });
    this.client = client(OWN_CONNECTIONS);
    this.servingClient = client(settings.servedReads);
    this.servingSlots = new Slots(settings.servedReads);
  }

  /**
   * An object for /files to send, as get() reads it, on the serving connections. Throws
   * StoreBusyError when all of them stay busy for CONNECTION_TIMEOUT_MS; the slot is free again
   * once the stream closes.
   */
  async serve(key: string, options: { ifNoneMatch?: string } = {}): Promise<ObjectBody | undefined> {
    if (!(await this.servingSlots.take(CONNECTION_TIMEOUT_MS))) throw new StoreBusyError();
    let body: ObjectBody | undefined;
    try {
      body = await this.get(key, options, this.servingClient);
    } catch (error) {
      this.servingSlots.give();
      throw error;
    }
    if (!body || body.notModified) this.servingSlots.give();
    else body.stream.once('close', () => this.servingSlots.give());
    return body;
  }

  /** The bucket, for messages. */
  get bucket(): string {
    return this.settings.bucket;
  }

  /** Reports failed requests to `observer`. */
  observe(observer: StorageObserver): void {
    this.observer = observer;
  }

  /** Throws BucketUnavailableError unless the bucket exists and answers us. */
  async checkBucket(): Promise<void> {
    try {
      await this.request('head', () => this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket })));
    } catch (error) {
      if (error instanceof BucketUnavailableError) throw error;
      // A HEAD answer has no body to name the error: 404 is the bucket's, 403 refuses our keys.
      const status = statusOf(error);
      if (status === 404) throw this.unavailable(error, 'NoSuchBucket');
      if (status === 401 || status === 403) throw this.unavailable(error, 'AccessDenied');
      throw new BucketUnavailableError(`${this.where()} cannot be reached (${codeOf(error)}: ${messageOf(error)}): check S3_ENDPOINT and S3_REGION`, { cause: error });
    }
  }

  /** Stores bytes under a key in one request. */
  async put(key: string, data: Buffer, options: PutOptions = {}): Promise<void> {
    await this.request('put', () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentLength: data.length, ContentType: options.contentType, Metadata: metadata(options) }),
      ),
    );
  }

  /** Stores a stream under a key: in one request when it fits in one part, else as a multipart upload (aborted if it fails). */
  async upload(key: string, source: Readable, options: PutOptions = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      partSize: this.partSizeBytes,
      queueSize: 2,
      leavePartsOnError: false,
      params: { Bucket: this.bucket, Key: key, Body: source, ContentType: options.contentType, Metadata: metadata(options) },
    });
    await this.request('multipart', () => upload.done());
  }

  /** Reads an object; undefined when there is none. With `ifNoneMatch` equal to its ETag, answers notModified. */
  async get(key: string, options: { ifNoneMatch?: string } = {}, client: S3Client = this.client): Promise<ObjectBody | undefined> {
    try {
      const answer = await this.request(
        'get',
        () => client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, IfNoneMatch: options.ifNoneMatch })),
        (error) => isMissing(error) || statusOf(error) === 304,
      );
      return {
        notModified: false,
        stream: answer.Body as Readable,
        bytes: answer.ContentLength,
        etag: answer.ETag,
        lastModified: answer.LastModified,
      };
    } catch (error) {
      if (statusOf(error) === 304) return { notModified: true, etag: options.ifNoneMatch! };
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Size, time and recorded sha256 of an object; undefined when there is none. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const answer = await this.request('head', () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })), isMissing);
      return { key, bytes: answer.ContentLength ?? 0, lastModified: writtenBy(answer.LastModified), sha256: answer.Metadata?.sha256 };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Deletes an object; a missing one is fine. */
  async delete(key: string): Promise<void> {
    try {
      await this.request('delete', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })), isMissing);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /** Copies an object within the bucket, metadata and all; false when the source is gone. */
  async copy(from: string, to: string): Promise<boolean> {
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    try {
      await this.request('copy', () => this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source, MetadataDirective: 'COPY' })), isMissing);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Every object whose key starts with `prefix`, in key order, `pageSize` (at most 1000) per request. */
  async *list(prefix: string, pageSize = 1000): AsyncIterable<ObjectInfo[]> {
    for (let token: string | undefined, first = true; first || token; first = false) {
      const page = await this.listPage(prefix, pageSize, token);
      yield page.objects;
      token = page.next;
    }
  }

  /** Aborts the unfinished multipart uploads under `prefix` started more than `olderThanMs` ago (all, without it); returns how many. */
  async abortUploads(prefix: string, olderThanMs: number | undefined): Promise<number> {
    let aborted = 0;
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const page = await this.request('list', () => this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, ...markers })));
      for (const upload of page.Uploads ?? []) {
        const age = Date.now() - (upload.Initiated?.getTime() ?? 0);
        if (olderThanMs !== undefined && age < olderThanMs) continue;
        await this.request('multipart', () =>
          this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId })),
        ).catch((error: unknown) => {
          if (!isMissing(error)) throw error;
        });
        aborted += 1;
      }
      if (!page.IsTruncated) return aborted;
      markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
  }

  /** A GET URL for an object, signed for `expiresInSeconds`. */
  presign(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresInSeconds });
  }

  /** Closes the client's connections. */
  close(): void {
    this.client.destroy();
    this.servingClient.destroy();
  }

  private async listPage(prefix: string, pageSize: number, token: string | undefined): Promise<ListPage> {
    const answer = await this.request('list', () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: pageSize, ContinuationToken: token })),
    );
    return {
      objects: (answer.Contents ?? []).map((object) => ({ key: object.Key!, bytes: object.Size ?? 0, lastModified: writtenBy(object.LastModified) })),
      next: answer.IsTruncated ? answer.NextContinuationToken : undefined,
    };
  }

  /**
   * Runs a request; a failure that is not `expected` is reported to the observer before it is
   * thrown, and one that says the bucket is missing or refuses us becomes a BucketUnavailableError.
   */
  private async request<T>(operation: StorageOperation, send: () => Promise<T>, expected: (error: unknown) => boolean = () => false): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (!expected(error)) this.observer?.storageRequestFailed(operation, codeOf(error));
      throw this.unavailable(error, codeOf(error));
    }
  }

  /** A BucketUnavailableError saying which setting to fix, for a missing bucket or refused credentials; else `error` itself. */
  private unavailable(error: unknown, code: string): unknown {
    if (code === 'NoSuchBucket') {
      return new BucketUnavailableError(`${this.where()} does not exist: create it (aws s3 mb s3://${this.bucket}) or set S3_BUCKET`, { cause: error });
    }
    const status = statusOf(error);
    if (status === 401 || (status === 403 && CREDENTIAL_ERRORS.has(code))) {
      return new BucketUnavailableError(`${this.where()} refused the credentials (${code}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`, { cause: error });
    }
    return error;
  }

  /** The bucket as messages name it. */
  private where(): string {
    return `bucket ${this.bucket}${this.settings.endpoint ? ` at ${this.settings.endpoint}` : ` in ${this.settings.region}`}`;
  }
}

/** What S3 answers (403) to a request whose keys are wrong; other 403s are about the object or bucket. */
const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken']);

/**
 * A time by which the object was written: LastModified has whole seconds, and some servers (Swift)
 * round it up, so one second earlier. "Older than" checks (staleness, quarantine retention) then
 * never see a file written in the future.
 */
function writtenBy(lastModified: Date | undefined): Date {
  return new Date((lastModified?.getTime() ?? 0) - 1000);
}

/** Whether an SDK error says the object (not the bucket) is not there. */
function isMissing(error: unknown): boolean {
  const name = (error as { name?: unknown }).name;
  return name === 'NoSuchKey' || (statusOf(error) === 404 && name !== 'NoSuchBucket');
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** The server's error code (`NoSuchKey`, `SlowDown`), or the socket's (`ECONNREFUSED`). */
function codeOf(error: unknown): string {
  const { Code, code, name } = error as { Code?: unknown; code?: unknown; name?: unknown };
  for (const candidate of [Code, code, name]) if (typeof candidate === 'string' && candidate !== '' && candidate !== 'Error') return candidate;
  return 'unknown';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function metadata(options: PutOptions): Record<string, string> | undefined {
  return options.sha256 ? { sha256: options.sha256 } : undefined;
}

/** A counting semaphore whose waiters give up after a while. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(count: number) {
    this.free = count;
  }

  /** Takes a slot, waiting up to `timeoutMs` for one; false when none came free in time. */
  take(timeoutMs: number): Promise<boolean> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const granted = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(granted), 1);
        resolve(false);
      }, timeoutMs);
      this.waiting.push(granted);
    });
  }

  /** Gives a slot back, to the longest waiter if any. */
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
