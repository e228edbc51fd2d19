/**
 * The job queue: graphile-worker on the catalogue's own PostgreSQL. Jobs are queued in the same
 * transaction as the rows they concern (see ImageRepository); this module installs the queue's
 * schema and runs workers. Any number of worker processes, on any machines, may share a database:
 * graphile-worker locks each job with SKIP LOCKED, so no image is processed twice at once.
 */
import { Logger as WorkerLogger, run, runMigrations, type Runner, type Task } from 'graphile-worker';
import type { Logger } from 'pino';
import type { SegmentationService } from '../services/segmentation.service.js';
import { SEGMENT_IMAGE_TASK, type SegmentImagePayload } from './job-names.js';

/** Options of a worker. */
export interface WorkerOptions {
  databaseUrl: string;
  /** Jobs run at once in this process. */
  concurrency: number;
  logger: Logger;
  segmentation: SegmentationService;
}

/** Creates or upgrades the queue's tables (schema graphile_worker). */
export async function installQueue(databaseUrl: string, logger: Logger): Promise<void> {
  await runMigrations({ connectionString: databaseUrl, logger: workerLogger(logger) });
}

/** Starts a worker; `stop()` on the result lets running jobs finish, then returns. */
export async function startWorker(options: WorkerOptions): Promise<Runner> {
  const segmentImage: Task = async (payload, helpers) => {
    const { imageId, model } = parsePayload(payload);
    await options.segmentation.segmentImage(imageId, {
      lastAttempt: helpers.job.attempts >= helpers.job.max_attempts,
      model,
    });
  };
  return run({
    connectionString: options.databaseUrl,
    concurrency: options.concurrency,
    // segcat handles SIGINT/SIGTERM itself, to shut down in order.
    noHandleSignals: true,
    pollInterval: 2000,
    logger: workerLogger(options.logger),
    taskList: { [SEGMENT_IMAGE_TASK]: segmentImage },
  });
}

function parsePayload(payload: unknown): SegmentImagePayload {
  const { imageId, model } = (payload ?? {}) as Partial<SegmentImagePayload>;
  if (typeof imageId !== 'string' || (model !== undefined && typeof model !== 'string')) {
    throw new Error(`invalid ${SEGMENT_IMAGE_TASK} payload: ${JSON.stringify(payload)}`);
  }
  return model ? { imageId, model } : { imageId };
}

/** graphile-worker's logger, writing to pino. */
function workerLogger(logger: Logger): WorkerLogger {
  const child = logger.child({ component: 'queue' });
  return new WorkerLogger(() => (level, message, meta) => {
    const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'debug';
    child[method](meta ?? {}, message);
  });
}
