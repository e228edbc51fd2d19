/**
 * segcat's Prometheus metrics (prom-client): one `Metrics` per running process, with its own
 * registry, that the composition root builds and hands to whatever reports (the segmentation
 * service, the queue's handlers, the HTTP layer, an object-storage backend). Gauges that need a
 * query (queue depth, free space) are read at scrape time; the queue's counts are reused for
 * QUEUE_DEPTH_TTL_MS so that frequent or concurrent scrapes cost one query. README "Metrics" lists
 * every metric.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BoundedLabel } from './bounded-label.js';
import { processRegistry } from './process-metrics.js';
import { SEGMENTATION_STAGES, type PoolUsage, type SegmentationObserver, type SegmentationStage, type StorageObserver, type StorageOperation } from './probes.js';

/** How long queue counts are reused between scrapes. */
export const QUEUE_DEPTH_TTL_MS = 5_000;
/** Distinct GraphQL operation names kept as labels; later new names count as `(other)`. */
export const MAX_OPERATION_NAMES = 100;
/** Distinct object-store error codes kept as labels. */
const MAX_STORAGE_CODES = 50;

/** GraphQL names (https://spec.graphql.org/October2021/#Name), at most 64 characters. */
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;
const STORAGE_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STAGE_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The queue's work right now. */
export interface QueueDepth {
  /** Images per status, DONE aside (that is the whole catalogue, not the queue). */
  images: Record<'PENDING' | 'PROCESSING' | 'FAILED', number>;
  /** Unfinished jobs per task, then per state (`waiting`, `running`, `retrying`, `failed`). */
  jobs: Record<string, Record<string, number>>;
}

/** How a job ended, as `segcat_jobs_total` counts it. */
export type JobOutcome = 'done' | 'failed' | 'skipped' | 'retry';

/** Options of a Metrics. */
export interface MetricsOptions {
  /** Where collection failures are logged. */
  logger: Logger;
  /** Override of QUEUE_DEPTH_TTL_MS (tests). */
  queueDepthTtlMs?: number;
}

/** A GraphQL request, as the request-latency histogram labels it. */
export interface GraphQLRequestFacts {
  /** The resolved operation's type; undefined when the document did not parse or validate. */
  type?: string;
  /** The operation's name; null when anonymous. */
  name?: string | null;
  /** Whether the caller had the key the operation needs; only then is its name kept as a label. */
  allowed: boolean;
}

/**
 * One process's metrics: what it records, and the scrape. It is made first thing at start, so that
 * every part can be given it; the sources read at scrape time (`watch*`) are added as they open.
 */
export class Metrics implements SegmentationObserver, StorageObserver {
  /** This process's segcat_* metrics (prom-client's process_* and nodejs_* ones are added at scrape). */
  readonly registry = new Registry();
  private readonly pools = new Map<string, () => PoolUsage>();
  private readonly operationNames = new BoundedLabel({ maxValues: MAX_OPERATION_NAMES, pattern: OPERATION_NAME });
  private readonly storageCodes = new BoundedLabel({ maxValues: MAX_STORAGE_CODES, pattern: STORAGE_CODE });
  private readonly stages: Histogram<'stage'>;
  private readonly jobs: Counter<'task' | 'outcome'>;
  private readonly uploadBytes: Counter;
  private readonly requests: Histogram<'operation' | 'type'>;
  private readonly storageErrors: Counter<'operation' | 'code'>;
  private readonly collectErrors: Counter<'source'>;
  private readonly model: Gauge<'name' | 'version'>;
  private queueSource?: () => Promise<QueueDepth>;
  private depth?: { at: number; value: Promise<QueueDepth> };

  constructor(private readonly options: MetricsOptions) {
    const registers = [this.registry];
    this.collectErrors = new Counter({
      name: 'segcat_metrics_collect_errors_total',
      help: 'Scrapes that could not read a source: queue (the database; the queue gauges were left out of that scrape) or disk (DATA_DIR; free bytes read NaN).',
      labelNames: ['source'],
      registers,
    });
    const depth = () => this.queueDepth();
    const failed = (source: string, error: unknown) => this.collectFailed(source, error);
    new Gauge({
      name: 'segcat_queue_images',
      help: 'Images waiting (PENDING), being segmented (PROCESSING) or FAILED, in the whole catalogue.',
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset();
        const value = await depth()?.catch((error: unknown) => failed('queue', error));
        if (value) for (const [status, count] of Object.entries(value.images)) this.set({ status }, count);
      },
    });
    new Gauge({
      name: 'segcat_queue_jobs',
      help: 'Unfinished queue jobs by task and state (waiting, running, retrying, failed), on every worker.',
      labelNames: ['task', 'state'],
      registers,
      async collect() {
        this.reset();
        // Failure is counted once, by segcat_queue_images, from the same shared read.
        const value = await depth()?.catch(() => undefined);
        if (value) for (const [task, states] of Object.entries(value.jobs)) for (const [state, count] of Object.entries(states)) this.set({ task, state }, count);
      },
    });
    this.jobs = new Counter({
      name: 'segcat_jobs_total',
      help: 'Jobs this process ran, by task and outcome: done, failed (the image is FAILED), skipped (nothing to do), retry (this attempt failed; it runs again).',
      labelNames: ['task', 'outcome'],
      registers,
    });
    this.stages = new Histogram({
      name: 'segcat_segmentation_stage_seconds',
      help: 'Seconds each stage of a recorded segmentation took: decode, model, post, files, database.',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.uploadBytes = new Counter({
      name: 'segcat_upload_bytes_total',
      help: 'Bytes of files received in GraphQL multipart uploads, including files then refused.',
      registers,
    });
    this.requests = new Histogram({
      name: 'segcat_graphql_request_duration_seconds',
      help: 'Seconds from a GraphQL request reaching Apollo to its answer, by operation name and type.',
      labelNames: ['operation', 'type'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.model = new Gauge({
      name: 'segcat_model_info',
      help: 'The model this process segments with by default: 1, labelled with its name and version.',
      labelNames: ['name', 'version'],
      registers,
    });
    this.poolGauges(registers);
    this.storageErrors = new Counter({
      name: 'segcat_storage_request_errors_total',
      help: 'Failed requests to the object store (S3), by operation and error code.',
      labelNames: ['operation', 'code'],
      registers,
    });
  }

  /** Labels `segcat_model_info` with the model this process segments with by default. */
  modelInUse(model: { name: string; version: string }): void {
    this.model.reset();
    this.model.set({ name: model.name, version: model.version }, 1);
  }

  /** Reads the queue's depth from `source` at scrape time (at most once per QUEUE_DEPTH_TTL_MS). */
  watchQueue(source: () => Promise<QueueDepth>): void {
    this.queueSource = source;
    this.depth = undefined;
  }

  /**
   * Reads the free space where files are stored from `source` at scrape time (filesystem storage;
   * without a call, there is no such gauge). NaN when it cannot be read.
   */
  watchFreeSpace(source: () => Promise<number>): void {
    const failed = (error: unknown) => this.collectFailed('disk', error);
    this.registry.removeSingleMetric('segcat_data_dir_free_bytes');
    new Gauge({
      name: 'segcat_data_dir_free_bytes',
      help: 'Bytes free in DATA_DIR for segcat (filesystem storage); NaN when it cannot be read.',
      registers: [this.registry],
      async collect() {
        const free = await source().catch((error: unknown) => {
          failed(error);
          return NaN;
        });
        this.set(free);
      },
    });
  }

  /** Reports a connection pool's use (`prisma`: the services' database pool; `queue`: the worker's). */
  watchPool(name: 'prisma' | 'queue', usage: () => PoolUsage): void {
    this.pools.set(name, usage);
  }

  segmented(milliseconds: Record<SegmentationStage, number>): void {
    for (const stage of SEGMENTATION_STAGES) this.stages.observe({ stage }, milliseconds[stage] / 1000);
  }

  /**
   * Runs one job's handler and counts how it ended: what it resolves to when that is an outcome
   * (`done` otherwise), and when it throws, `retry`, or `failed` on the job's last attempt.
   */
  async countJob<T>(task: string, job: { lastAttempt: boolean }, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      const outcome: JobOutcome = result === 'failed' ? 'failed' : result === 'skipped' ? 'skipped' : 'done';
      this.jobs.inc({ task, outcome });
      return result;
    } catch (error) {
      this.jobs.inc({ task, outcome: job.lastAttempt ? 'failed' : 'retry' });
      throw error;
    }
  }

  /** Bytes of an uploaded file arrived. */
  uploadReceived(bytes: number): void {
    this.uploadBytes.inc(bytes);
  }

  /**
   * A GraphQL request was answered after `seconds`. Its operation is labelled by name only when
   * named, well-formed, among the first MAX_OPERATION_NAMES names and asked with the right key;
   * else `(anonymous)`, `(invalid)` (did not parse or validate), `(unauthenticated)` or `(other)`.
   */
  graphqlRequest(request: GraphQLRequestFacts, seconds: number): void {
    const operation =
      request.type === undefined ? '(invalid)'
      : !request.allowed ? '(unauthenticated)'
      : !request.name ? '(anonymous)'
      : this.operationNames.valueOf(request.name);
    this.requests.observe({ operation, type: request.type ?? 'none' }, seconds);
  }

  storageRequestFailed(operation: StorageOperation, code: string): void {
    this.storageErrors.inc({ operation, code: this.storageCodes.valueOf(code) });
  }

  /** The exposition: this process's segcat_* metrics, then prom-client's process and Node.js ones. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const [own, standard] = await Promise.all([this.registry.metrics(), processRegistry().metrics()]);
    return { contentType: this.registry.contentType, body: `${own}\n${standard}` };
  }

  /**
   * The queue's counts, read at most once per TTL; scrapes at the same moment share one read.
   * Undefined until a source is watched.
   */
  private queueDepth(): Promise<QueueDepth> | undefined {
    if (!this.queueSource) return undefined;
    const ttl = this.options.queueDepthTtlMs ?? QUEUE_DEPTH_TTL_MS;
    const now = Date.now();
    if (!this.depth || now - this.depth.at >= ttl) {
      const value = this.queueSource();
      this.depth = { at: now, value };
      // A failed read is not reused: the next scrape asks again.
      value.catch(() => {
        if (this.depth?.value === value) this.depth = undefined;
      });
    }
    return this.depth.value;
  }

  private collectFailed(source: string, error: unknown): undefined {
    this.collectErrors.inc({ source });
    this.options.logger.warn({ err: error, source }, 'metrics: could not read a source');
    return undefined;
  }

  private poolGauges(registers: Registry[]): void {
    const pools = this.pools;
    const gauge = (name: string, help: string, read: (usage: PoolUsage) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers,
        collect() {
          this.reset();
          for (const [pool, usage] of pools) this.set({ pool }, read(usage()));
        },
      });
    gauge('segcat_db_pool_connections', 'Open PostgreSQL connections of a pool (prisma: the services; queue: the worker).', (usage) => usage.total);
    gauge('segcat_db_pool_idle_connections', 'Open PostgreSQL connections of a pool that nobody is using.', (usage) => usage.idle);
    gauge('segcat_db_pool_waiting_clients', 'Callers waiting for a connection because the pool is at its maximum.', (usage) => usage.waiting);
    gauge('segcat_db_pool_max_connections', 'Most connections a pool opens.', (usage) => usage.max);
  }
}
