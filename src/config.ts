/**
 * The one place that reads the environment. Every setting segcat understands is declared here,
 * with its default, parsed once and frozen; everything else receives a `Config`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { S3Settings } from './storage/s3-objects.js';
import { QUALITIES, SEGMENT_DEFAULTS, type Quality } from './vision/types.js';

/** Root of the installed package (where `models/` and `schema/` live), whatever the cwd. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const MB = 1024 * 1024;

const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));

/** A yes/no setting: `true`, `false`, `1` or `0`. */
function flag(fallback: 'true' | 'false') {
  return z
    .enum(['true', 'false', '1', '0'])
    .default(fallback)
    .transform((value) => value === 'true' || value === '1');
}

const envSchema = z.object({
  /** Address `segcat serve` listens on (the Docker image sets 0.0.0.0). */
  HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Which proxies' X-Forwarded-* headers to believe (express's `trust proxy`): `false`, `true`, a hop
   * count, or addresses and subnets such as `loopback, 10.0.0.0/8`.
   */
  TRUST_PROXY: z.string().min(1).default('loopback'),
  /** HTTP port of `segcat serve`. */
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  /** PostgreSQL URL; when absent an embedded PostgreSQL is started under DATA_DIR. */
  DATABASE_URL: optionalString,
  /** Where originals, masks, cut-outs and the embedded database live. */
  DATA_DIR: z.string().default('./data'),
  /** Where stored files are kept: `fs` (under DATA_DIR) or `s3` (an S3-compatible bucket; DATA_DIR still spools uploads). */
  STORAGE: z.enum(['fs', 's3']).default('fs'),
  /** URL of the S3-compatible server (MinIO, Ceph RGW, Swift…); unset for AWS S3, whose endpoint comes from S3_REGION. */
  S3_ENDPOINT: optionalString.pipe(z.url().optional()),
  /** The bucket holding stored files (it must exist); needed by STORAGE=s3 and `segcat storage migrate`. */
  S3_BUCKET: optionalString,
  /** Region the requests are signed for. */
  S3_REGION: z.string().min(1).default('us-east-1'),
  /** Key prefix of every stored object, e.g. `segcat/` (several catalogues can share a bucket). */
  S3_PREFIX: z.string().default(''),
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`), which most S3-compatible servers need. */
  S3_FORCE_PATH_STYLE: flag('false'),
  /** `*Url` fields of stored files are presigned GET URLs to the bucket instead of /files/ URLs. */
  S3_PRESIGN: flag('false'),
  /** How long a presigned URL works, in seconds (S3 allows up to 7 days). */
  S3_PRESIGN_EXPIRES_SECONDS: z.coerce.number().int().min(1).max(604_800).default(300),
  /**
   * Most downloads from the bucket that /files proxies at once, per process, on connections of
   * their own: slow clients can then hold these, never the connections that uploads and jobs use.
   * A download that finds them all busy for 5 s gets 503 with Retry-After.
   */
  S3_SERVED_READS: z.coerce.number().int().min(1).max(10_000).default(32),
  /** The bucket's access key (the standard AWS variable); unset, the AWS SDK looks for credentials itself (AWS_PROFILE, instance roles…). */
  AWS_ACCESS_KEY_ID: optionalString,
  /** The secret of AWS_ACCESS_KEY_ID. */
  AWS_SECRET_ACCESS_KEY: optionalString,
  /** A session token that goes with temporary credentials. */
  AWS_SESSION_TOKEN: optionalString,
  /** Largest accepted upload, in bytes. */
  MAX_UPLOAD_BYTES: int(25 * MB),
  /** Largest accepted image, in pixels (width × height), checked before decoding. */
  MAX_IMAGE_PIXELS: int(SEGMENT_DEFAULTS.maxPixels),
  /** Most files in one multipart request. */
  MAX_FILES_PER_REQUEST: int(50),
  /** Bytes of uploads one server receives at once; past it, uploads get 503 with Retry-After. */
  MAX_CONCURRENT_UPLOAD_BYTES: int(512 * MB),
  /** When set, mutations need `Authorization: Bearer <key>`. */
  SEGCAT_API_KEY: optionalString,
  /** When set, queries and /files/ reads need `Authorization: Bearer <key>` (or the API key). */
  SEGCAT_READ_KEY: optionalString,
  /** Wrong keys one client IP may send to POST /session in a row before it is answered 429. */
  SESSION_RATE_LIMIT_BURST: int(5),
  /** Seconds for a client IP to regain one attempt at POST /session after wrong keys. */
  SESSION_RATE_LIMIT_REFILL_SECONDS: z.coerce.number().positive().default(10),
  /** Base of the `*Url` fields when behind a proxy, e.g. https://photos.example.com. */
  PUBLIC_URL: optionalString.pipe(z.url().optional()),
  /** `production` turns off Sandbox, introspection and stack traces. */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** Model name from models/manifest.json. */
  SEGCAT_MODEL: z.string().default('yolo11n-seg-uint8'),
  /** `fast` (one model run per photo) or `accurate` (both models fused, and tiles on large photos; src/vision/accurate.ts). */
  SEGCAT_QUALITY: z.enum(QUALITIES).default('fast'),
  /** Directory holding model weights. */
  MODEL_DIR: z.string().default(path.join(PACKAGE_ROOT, 'models')),
  /** Directory to copy model weights from instead of downloading them. */
  MODEL_MIRROR: optionalString,
  /** Detections below this score are not recorded. */
  SEGCAT_MIN_SCORE: z.coerce.number().min(0).max(1).default(SEGMENT_DEFAULTS.minScore),
  /** Most detections kept per image. */
  SEGCAT_MAX_DETECTIONS: int(SEGMENT_DEFAULTS.maxDetections),
  /** onnxruntime intra-op threads (0 lets onnxruntime decide). */
  SEGCAT_ONNX_THREADS: z.coerce.number().int().min(0).default(0),
  SEGCAT_ONNX_SPINNING: flag('false'),
  /**
   * `high`: the model's threads get the CPU first (every other thread of the process gets nice 10);
   * `normal`: all threads alike; `auto`: high in processes that serve no API (`segcat worker`,
   * `segcat import`, `segcat segment`), normal in `segcat serve`, whose API must stay quick.
   */
  SEGCAT_MODEL_PRIORITY: z.enum(['auto', 'high', 'normal']).default('auto'),
  /** Segmentation jobs run at once by one worker process. */
  SEGCAT_WORKER_CONCURRENCY: int(2),
  /** Run a queue worker inside `segcat serve`. */
  SEGCAT_EMBEDDED_WORKER: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((value) => value === 'true' || value === '1'),
  /** Port of the embedded PostgreSQL. */
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Longest a client may take to send a whole request (headers and body), in milliseconds. */
  REQUEST_TIMEOUT_MS: int(120_000),
  /**
   * Longest a `wait: true` upload waits for segmentation, in milliseconds, before it answers with
   * the image still PENDING or PROCESSING (`settled: false`). Must be below REQUEST_TIMEOUT_MS;
   * default 60 000, or half REQUEST_TIMEOUT_MS when that is less.
   */
  UPLOAD_WAIT_MS: z.coerce.number().int().positive().optional(),
  /**
   * With DATABASE_URL: a queue job locked longer than this many minutes belongs to a dead worker
   * and is re-queued at start, and unreferenced stored files older than this are quarantined. (With
   * the embedded database the process owns DATA_DIR, so every locked job and orphan is reclaimed.)
   */
  SEGCAT_STALE_MINUTES: z.coerce.number().min(0).default(10),
  /**
   * Days a stored file that no row points to stays in DATA_DIR/quarantine/ (where start-up and
   * `segcat check --repair` move such files instead of deleting them) before start-up deletes it.
   */
  SEGCAT_QUARANTINE_DAYS: z.coerce.number().min(0).default(7),
  /** Free space in DATA_DIR below which /health reports the disk as degraded, in MB. */
  SEGCAT_MIN_FREE_MB: z.coerce.number().int().min(0).default(512),
  /**
   * Port of a second listener, on HOST, that serves only GET /metrics: how a `segcat worker` (which
   * has no HTTP API) is scraped; `--metrics-port` overrides it. Unset: no such listener.
   */
  METRICS_PORT: optionalString.pipe(z.coerce.number<string | undefined>().int().min(0).max(65535).optional()),
});

/** UPLOAD_WAIT_MS when unset (and REQUEST_TIMEOUT_MS leaves room for it). */
const DEFAULT_UPLOAD_WAIT_MS = 60_000;

const settingsSchema = envSchema.superRefine((e, context) => {
  if (e.STORAGE === 's3' && !e.S3_BUCKET) {
    context.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'is needed with STORAGE=s3: the bucket that holds the stored files' });
  }
  if (e.S3_BUCKET && (e.AWS_ACCESS_KEY_ID === undefined) !== (e.AWS_SECRET_ACCESS_KEY === undefined)) {
    context.addIssue({ code: 'custom', path: [e.AWS_ACCESS_KEY_ID ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID'], message: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together' });
  }
  if (e.UPLOAD_WAIT_MS !== undefined && e.UPLOAD_WAIT_MS >= e.REQUEST_TIMEOUT_MS) {
    context.addIssue({
      code: 'custom',
      path: ['UPLOAD_WAIT_MS'],
      message: `must be below REQUEST_TIMEOUT_MS (${e.REQUEST_TIMEOUT_MS}), so a waiting upload answers before the request times out`,
    });
  }
});

/** segcat's settings, parsed from the environment. */
export type Config = Readonly<{
  /** HOST: the address `segcat serve` listens on. */
  host: string;
  /** TRUST_PROXY: express's `trust proxy` (whose X-Forwarded-* headers count). */
  trustProxy: string;
  /** PORT: the HTTP port (0 picks a free one). */
  port: number;
  /** DATABASE_URL; undefined starts an embedded PostgreSQL under `dataDir`. */
  databaseUrl: string | undefined;
  /** DATA_DIR, absolute: stored files (STORAGE=fs), uploads in flight, and the embedded database. */
  dataDir: string;
  /** STORAGE: which backend keeps stored files. */
  storage: 'fs' | 's3';
  /** The bucket's settings (S3_*, AWS_*), when S3_BUCKET is set: used by STORAGE=s3 and `segcat storage migrate`. */
  s3: S3Settings | undefined;
  /** MAX_UPLOAD_BYTES: the largest file accepted. */
  maxUploadBytes: number;
  /** MAX_IMAGE_PIXELS: the largest width × height (× GIF frames) accepted. */
  maxImagePixels: number;
  /** MAX_FILES_PER_REQUEST: files in one multipart request. */
  maxFilesPerRequest: number;
  /** MAX_CONCURRENT_UPLOAD_BYTES: upload bytes one server receives at once. */
  maxConcurrentUploadBytes: number;
  /** SEGCAT_API_KEY: needed by every mutation when set. */
  apiKey: string | undefined;
  /** SEGCAT_READ_KEY: needed by every read when set. */
  readKey: string | undefined;
  /** Wrong keys a client IP may send to POST /session in a row. */
  sessionRateLimitBurst: number;
  /** Milliseconds for a client IP to regain one POST /session attempt. */
  sessionRateLimitRefillMs: number;
  /** PUBLIC_URL without a trailing slash: the base of every `*Url` field when set. */
  publicUrl: string | undefined;
  /** NODE_ENV=production: no Sandbox, introspection, stack traces or schema hints. */
  production: boolean;
  /** SEGCAT_MODEL: the model segmentation uses unless told otherwise. */
  model: string;
  /** SEGCAT_QUALITY: how thoroughly segmentation looks, unless a job says otherwise. */
  quality: Quality;
  /** MODEL_DIR, absolute: where model weights live. */
  modelDir: string;
  /** MODEL_MIRROR, absolute: a folder to copy weights from instead of downloading them. */
  modelMirror: string | undefined;
  /** SEGCAT_MIN_SCORE: detections below it are not recorded. */
  minScore: number;
  /** SEGCAT_MAX_DETECTIONS: most objects kept per image. */
  maxDetections: number;
  /** SEGCAT_ONNX_THREADS: onnxruntime intra-op threads (0: its own choice). */
  onnxThreads: number;
  /**
   * SEGCAT_ONNX_SPINNING: whether onnxruntime's threads spin between runs (default false: spinning
   * burns the cores that decoding, mask encoding and PostgreSQL need; see `npm run bench:ingest`).
   */
  onnxSpinning: boolean;
  /** SEGCAT_MODEL_PRIORITY: whether the model's threads get the CPU first (`auto`: only where no API is served). */
  modelPriority: 'auto' | 'high' | 'normal';
  /** SEGCAT_WORKER_CONCURRENCY: segmentation jobs one worker runs at once. */
  workerConcurrency: number;
  /** SEGCAT_EMBEDDED_WORKER: whether `segcat serve` runs a queue worker too. */
  embeddedWorker: boolean;
  /** EMBEDDED_PG_PORT: the embedded PostgreSQL's port. */
  embeddedPgPort: number;
  /** LOG_LEVEL: pino's level. */
  logLevel: string;
  /** REQUEST_TIMEOUT_MS: longest a client may take to send a request. */
  requestTimeoutMs: number;
  /** UPLOAD_WAIT_MS: longest a `wait: true` upload waits for segmentation. */
  uploadWaitMs: number;
  /** SEGCAT_STALE_MINUTES, in milliseconds: age after which a lock or unreferenced file is a dead process's. */
  staleMs: number;
  /** SEGCAT_QUARANTINE_DAYS, in milliseconds. */
  quarantineMs: number;
  /** SEGCAT_MIN_FREE_MB, in bytes. */
  minFreeBytes: number;
  /** METRICS_PORT: where `segcat serve` and `segcat worker` also serve GET /metrics alone. */
  metricsPort: number | undefined;
}>;

/** Thrown when the environment holds invalid settings; lists every bad key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses an environment (default `process.env`) into a frozen Config, or throws ConfigError. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    host: e.HOST,
    trustProxy: e.TRUST_PROXY,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    storage: e.STORAGE,
    s3: e.S3_BUCKET === undefined ? undefined : s3Settings({ ...e, S3_BUCKET: e.S3_BUCKET }),
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    maxImagePixels: e.MAX_IMAGE_PIXELS,
    maxFilesPerRequest: e.MAX_FILES_PER_REQUEST,
    maxConcurrentUploadBytes: e.MAX_CONCURRENT_UPLOAD_BYTES,
    apiKey: e.SEGCAT_API_KEY,
    readKey: e.SEGCAT_READ_KEY,
    sessionRateLimitBurst: e.SESSION_RATE_LIMIT_BURST,
    sessionRateLimitRefillMs: e.SESSION_RATE_LIMIT_REFILL_SECONDS * 1000,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    production: e.NODE_ENV === 'production',
    model: e.SEGCAT_MODEL,
    quality: e.SEGCAT_QUALITY,
    modelDir: path.resolve(e.MODEL_DIR),
    modelMirror: e.MODEL_MIRROR === undefined ? undefined : path.resolve(e.MODEL_MIRROR),
    minScore: e.SEGCAT_MIN_SCORE,
    maxDetections: e.SEGCAT_MAX_DETECTIONS,
    onnxThreads: e.SEGCAT_ONNX_THREADS,
    onnxSpinning: e.SEGCAT_ONNX_SPINNING,
    modelPriority: e.SEGCAT_MODEL_PRIORITY,
    workerConcurrency: e.SEGCAT_WORKER_CONCURRENCY,
    embeddedWorker: e.SEGCAT_EMBEDDED_WORKER,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    logLevel: e.LOG_LEVEL,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    uploadWaitMs: e.UPLOAD_WAIT_MS ?? Math.min(DEFAULT_UPLOAD_WAIT_MS, Math.floor(e.REQUEST_TIMEOUT_MS / 2)),
    staleMs: e.SEGCAT_STALE_MINUTES * 60_000,
    quarantineMs: e.SEGCAT_QUARANTINE_DAYS * 24 * 60 * 60_000,
    minFreeBytes: e.SEGCAT_MIN_FREE_MB * MB,
    metricsPort: e.METRICS_PORT,
  });
}

/** The S3 settings, with the prefix normalised to '' or `<something>/`. */
function s3Settings(e: z.infer<typeof envSchema> & { S3_BUCKET: string }): S3Settings {
  const prefix = e.S3_PREFIX.replace(/^\/+|\/+$/g, '');
  return Object.freeze({
    endpoint: e.S3_ENDPOINT,
    bucket: e.S3_BUCKET,
    region: e.S3_REGION,
    prefix: prefix === '' ? '' : `${prefix}/`,
    forcePathStyle: e.S3_FORCE_PATH_STYLE,
    credentials:
      e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, ...(e.AWS_SESSION_TOKEN && { sessionToken: e.AWS_SESSION_TOKEN }) }
        : undefined,
    presign: e.S3_PRESIGN,
    presignExpiresSeconds: e.S3_PRESIGN_EXPIRES_SECONDS,
    servedReads: e.S3_SERVED_READS,
  });
}
