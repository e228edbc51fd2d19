/**
 * The composition root: builds segcat from its configuration (database, file store, model,
 * services, queue worker, HTTP server) and takes it down again in order.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { CatalogueRepository } from './db/catalogue.repository.js';
import { ImageReadRepository } from './db/image-read.repository.js';
import { listenForImageEvents } from './db/image-events.js';
import { SessionRepository } from './db/session.repository.js';
import { createApolloServer } from './graphql/server.js';
import { createHttpApp, type HealthResult } from './http/app.js';
import { createMetricsApp } from './http/metrics.route.js';
import { countJobs } from './jobs/job-sql.js';
import { installQueue, startWorker, unlockAbandonedJobs, type QueueWorker } from './jobs/queue.js';
import { graphqlMetricsPlugin } from './observability/graphql-metrics.plugin.js';
import { Metrics } from './observability/metrics.js';
import { createServices, type Services } from './services/services.js';
import { ensureCatalogueIdentity } from './storage/catalogue-identity.js';
import type { FileStore } from './storage/file-store.js';
import { openFileStore } from './storage/open-store.js';
import { lowerPriorityOutsideModels, modelFirst } from './vision/thread-priority.js';
import { createVisionRegistry, type VisionRegistry } from './vision/vision-engine.js';

/** A running segcat process. */
export interface Runtime {
  config: Config;
  logger: Logger;
  database: Database;
  /** What the transports call. */
  services: Services;
  /** The infrastructure behind the services, for the composition root and tests; transports use `services`. */
  store: FileStore;
  models: VisionRegistry;
  /** This process's metrics (GET /metrics). */
  metrics: Metrics;
  /** Set when an HTTP server was asked for. */
  url?: string;
  /** URL of the metrics-only listener, when `metricsPort` asked for one. */
  metricsUrl?: string;
  /** Stops everything, in order; safe to call twice. */
  close(): Promise<void>;
}

/** What to run in this process. */
export interface RuntimeOptions {
  /** Serve HTTP (GraphQL, files, gallery). */
  http: boolean;
  /** Run a queue worker. */
  worker: boolean;
  /** Also serve GET /metrics alone on this port, on HOST (0: any free port); `segcat worker --metrics-port`. */
  metricsPort?: number;
  /** Logger to use (default: pino at config.logLevel). */
  logger?: Logger;
  /**
   * Repair what a crash left at start (locked jobs, stuck images, unreferenced files) and purge the
   * quarantine; default true. `segcat check` turns it off, to report before anything changes.
   */
  reconcile?: boolean;
  /**
   * This process exists to segment and serves no API (`segcat worker`, `segcat import`,
   * `segcat resegment --wait`): with
   * SEGCAT_MODEL_PRIORITY=auto, the model's threads then get the CPU first. Default false, so that a
   * program embedding a worker keeps its threads' priorities unless SEGCAT_MODEL_PRIORITY=high.
   */
  modelFirst?: boolean;
}

/** Creates the process-wide logger: JSON lines on stdout for services. */
export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, base: { service: 'segcat' } });
}

/**
 * The logger of batch commands (import, resegment, ...): their stdout is for people and scripts,
 * so logs go to stderr, and only warnings and errors unless LOG_LEVEL asks for less.
 */
export function createCommandLogger(config: Config): Logger {
  const level = pino.levels.values[config.logLevel]! < pino.levels.values.warn! ? 'warn' : config.logLevel;
  return pino({ level, base: { service: 'segcat' } }, pino.destination(2));
}

/** Starts segcat; on any failure, what was started is stopped again before the error is thrown. */
export async function startRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config);
  const cleanups: (() => Promise<void>)[] = [];
  const close = once(async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => logger.error({ err: error }, 'error during shutdown'));
    }
  });
  try {
    // First, so that every part can report to it (an object store its failed requests).
    const metrics = new Metrics({ logger });
    const store = openFileStore(config);
    store.observe(metrics);
    cleanups.push(() => store.close());
    const models = await createVisionRegistry(config, (file, action) => logger.info({ file, action }, 'model weights pulled'));
    cleanups.push(() => models.close());
    const database = await openDatabase(config, logger);
    cleanups.push(() => database.close());
    // Before any file is touched: DATA_DIR must be this database's catalogue (else this throws).
    const catalogueId = await checkCatalogueIdentity(store, database);
    // With DATABASE_URL, other processes may share DATA_DIR: only their stale leftovers are ours to remove.
    const removed = await store.init(config.databaseUrl ? config.staleMs : undefined);
    if (removed > 0) logger.info({ removed }, 'removed temporary files left by an earlier run');
    await installQueue(database.url, logger);
    const events = await listenForImageEvents(database.url, logger);
    cleanups.push(() => events.close());
    watchRuntime(metrics, database, store, models);
    const services = createServices({
      prisma: database.prisma,
      store,
      models,
      events,
      logger,
      maxUploadBytes: config.maxUploadBytes,
      uploadWaitMs: config.uploadWaitMs,
      unlockAbandonedJobs: (olderThanMs) => unlockAbandonedJobs(database.url, olderThanMs, logger),
      metrics,
    });
    if (options.reconcile !== false) await reconcile(config, services, logger);
    let worker: QueueWorker | undefined;
    if (options.worker && modelFirst(config.modelPriority, options.modelFirst === true)) {
      const priority = lowerPriorityOutsideModels();
      // Undone last, once the worker has stopped.
      cleanups.push(async () => priority.restore());
      logger.info({ threads: priority.outcome }, 'model threads get the CPU first (SEGCAT_MODEL_PRIORITY)');
    }
    if (options.worker) {
      worker = await startWorker({
        databaseUrl: database.url,
        concurrency: config.workerConcurrency,
        logger,
        tasks: {
          segment_image: async ({ imageId, model, quality }, job) => {
            await metrics.countJob('segment_image', job, () => services.segmentation.segmentImage(imageId, { lastAttempt: job.lastAttempt, model, quality }));
          },
        },
      });
      cleanups.push(() => worker!.stop());
      metrics.watchPool('queue', () => worker!.poolUsage());
    }
    const runtime: Runtime = { config, logger, database, services, store, models, metrics, close };
    if (options.http) runtime.url = await serveHttp(runtime, cleanups, models.current.model.name);
    if (options.metricsPort !== undefined) runtime.metricsUrl = await serveMetrics(runtime, cleanups, options.metricsPort);
    logger.info(
      { url: runtime.url, metrics: runtime.metricsUrl, worker: options.worker, model: models.current.model.name, catalogue: catalogueId },
      'segcat started',
    );
    return runtime;
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * What the metrics read when scraped: the queue's depth (images not DONE, unfinished jobs), the
 * free space where files are stored (filesystem only), the database pool; and the model in use.
 */
function watchRuntime(metrics: Metrics, database: Database, store: FileStore, models: VisionRegistry): void {
  const images = new ImageReadRepository(database.prisma);
  metrics.modelInUse(models.current.model);
  metrics.watchQueue(async () => {
    const [unfinished, jobs] = await Promise.all([images.countUnfinished(), countJobs(database.prisma)]);
    return { images: unfinished, jobs };
  });
  const freeBytes = store.freeBytes?.bind(store);
  if (freeBytes) metrics.watchFreeSpace(freeBytes);
  metrics.watchPool('prisma', () => database.poolUsage());
}

/** Pairs DATA_DIR with the database's catalogue (src/storage/catalogue-identity.ts); returns its id. */
async function checkCatalogueIdentity(store: FileStore, database: Database): Promise<string> {
  const catalogue = new CatalogueRepository(database.prisma);
  return ensureCatalogueIdentity({
    store,
    database: { id: () => catalogue.id(), claim: (id) => catalogue.claim(id), referencedFiles: () => catalogue.referencedFiles() },
    databaseName: database.name,
  });
}

/**
 * Start-up reconciliation (MaintenanceService.reconcile). With the embedded database this process
 * owns DATA_DIR and the database, so everything left over is abandoned; with DATABASE_URL other
 * processes may be mid-work, so only what is older than SEGCAT_STALE_MINUTES counts. Temporary
 * files went in store.init().
 */
async function reconcile(config: Config, services: Services, logger: Logger): Promise<void> {
  const olderThanMs = config.databaseUrl ? config.staleMs : undefined;
  const { jobs, requeued, quarantined, purged } = await services.maintenance.reconcile({ olderThanMs, retentionMs: config.quarantineMs });
  if (jobs + requeued + quarantined > 0) {
    logger.warn({ jobs, requeued, quarantined }, 'recovered work and files left by an earlier run (unreferenced files are in DATA_DIR/quarantine/)');
  }
  if (purged > 0) logger.info({ purged, retentionDays: config.quarantineMs / 86_400_000 }, 'deleted quarantined files past their retention');
}

/**
 * Free space in DATA_DIR against SEGCAT_MIN_FREE_MB; with object storage, whether the bucket
 * answers. Trouble here degrades the service rather than taking it down: reads still work, and
 * every server sharing DATA_DIR (or the bucket) sees the same.
 */
async function diskHealth(store: FileStore, minFreeBytes: number): Promise<HealthResult> {
  const MB = 1024 * 1024;
  if (!store.freeBytes) {
    return store.ping().then(
      () => ({ ok: true, detail: `${store.location} answers` }),
      (error: unknown) => ({ ok: false, severity: 'degraded', detail: store.redactPaths(error instanceof Error ? error.message : String(error)) }),
    );
  }
  try {
    const free = await store.freeBytes();
    const shown = `${Math.floor(free / MB)} MB free`;
    if (free >= minFreeBytes) return { ok: true, detail: shown };
    return { ok: false, severity: 'degraded', detail: `${shown}, below SEGCAT_MIN_FREE_MB (${minFreeBytes / MB} MB)` };
  } catch (error) {
    const reason = store.redactPaths(error instanceof Error ? error.message : String(error));
    return { ok: false, severity: 'degraded', detail: `free space unknown: ${reason}` };
  }
}

/** Images whose files /health?deep=1 looks at. */
const HEALTH_SAMPLE_IMAGES = 20;

/**
 * Whether the files of a few images exist (/health?deep=1). A missing file degrades the service:
 * the rest still works, and `segcat check --repair` is the fix. Paths are named only when reading
 * the catalogue needs no key, since /health does not ask for one.
 */
async function filesHealth(maintenance: Services['maintenance'], hidePaths: boolean): Promise<HealthResult> {
  const sample = await maintenance.sample(HEALTH_SAMPLE_IMAGES);
  const checked = `${sample.files} files of ${sample.images} images sampled`;
  if (sample.missing.length === 0) return { ok: true, detail: `${checked}, none missing` };
  const named = hidePaths ? '' : ` (${sample.missing.slice(0, 5).map((file) => file.path).join(', ')})`;
  return { ok: false, severity: 'degraded', detail: `${checked}, ${sample.missing.length} missing${named}: run segcat check` };
}

/** Longest a client may take to send a request's headers (REQUEST_TIMEOUT_MS when shorter). */
const HEADERS_TIMEOUT_MS = 30_000;

/** At shutdown, how long requests in flight may take to finish before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

async function serveHttp(runtime: Runtime, cleanups: (() => Promise<void>)[], modelName: string): Promise<string> {
  const { config, logger, database, services, store } = runtime;
  const apollo = createApolloServer({ logger, production: config.production, plugins: [graphqlMetricsPlugin(runtime.metrics)] });
  await apollo.start();
  cleanups.push(() => apollo.stop());
  const app = createHttpApp({
    config,
    services,
    sessions: new SessionRepository(database.prisma),
    apollo,
    logger,
    metrics: runtime.metrics,
    health: async ({ deep }) => ({
      database: await database.ping().then(
        () => ({ ok: true }),
        (error: unknown) => ({ ok: false, detail: error instanceof Error ? error.message : String(error) }),
      ),
      model: { ok: true, detail: modelName },
      disk: await diskHealth(store, config.minFreeBytes),
      ...(deep && { files: await filesHealth(services.maintenance, config.readKey !== undefined) }),
    }),
  });
  const server = createServer(
    {
      // A client must send its whole request (headers and body) within this time: slow senders
      // cannot hold connections and upload buffers open. Node checks at this interval.
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(config.requestTimeoutMs, HEADERS_TIMEOUT_MS),
      connectionsCheckingInterval: Math.min(config.requestTimeoutMs, HEADERS_TIMEOUT_MS) / 2,
    },
    app,
  );
  await listen(server, config.port, config.host);
  cleanups.push(() => closeServer(server, logger));
  // Runs first (cleanups run in reverse): waiting uploads answer at once, unsettled, so that the
  // requests in flight can finish while the database is still there to answer them.
  cleanups.push(async () => services.waiter.close());
  const { port } = server.address() as AddressInfo;
  return config.publicUrl ?? `http://${urlHost(config.host)}:${port}`;
}

/** A listener serving GET /metrics alone (`segcat worker --metrics-port`); returns its URL. */
async function serveMetrics(runtime: Runtime, cleanups: (() => Promise<void>)[], port: number): Promise<string> {
  const { config, logger, database, metrics } = runtime;
  const app = createMetricsApp({ metrics, keys: { apiKey: config.apiKey, readKey: config.readKey }, sessions: new SessionRepository(database.prisma), logger });
  const server = createServer({ requestTimeout: config.requestTimeoutMs, headersTimeout: Math.min(config.requestTimeoutMs, HEADERS_TIMEOUT_MS) }, app);
  await listen(server, port, config.host);
  cleanups.push(() => closeServer(server, logger));
  return `http://${urlHost(config.host)}:${(server.address() as AddressInfo).port}/metrics`;
}

/** Listens on `port` and `host`; rejects when that fails (the port is taken, the address is not ours). */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Stops accepting connections and waits for in-flight requests to finish, at most
 * SHUTDOWN_GRACE_MS: then it cuts what is left (a slow upload, a client holding a connection).
 */
function closeServer(server: Server, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const grace = setTimeout(() => {
      logger.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'closing connections still open at shutdown');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    server.close(() => {
      clearTimeout(grace);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** How to reach an address we listen on: a wildcard is reached through localhost, IPv6 in brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
