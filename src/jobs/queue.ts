/**
 * The job queue: graphile-worker on the catalogue's own PostgreSQL. Jobs are queued in the same
 * transaction as the rows they concern (./job-sql.ts); this module installs the queue's schema and
 * runs workers. Any number of worker processes, on any machines, may share a database:
 * graphile-worker locks each job with SKIP LOCKED, so no image is processed twice at once.
 */
import { Logger as WorkerLogger, run, runMigrations, type Runner, type TaskList } from 'graphile-worker';
import pg from 'pg';
import type { Logger } from 'pino';
import { poolUsage, type PoolUsage } from '../observability/probes.js';
import { unlockJobs } from './job-sql.js';
import type { TaskHandler, TaskHandlers, TaskName } from './tasks.js';

/** Options of a worker. */
export interface WorkerOptions {
  /** The catalogue's database, which holds the queue. */
  databaseUrl: string;
  /** Jobs run at once in this process. */
  concurrency: number;
  logger: Logger;
  /** What to do for each task's jobs. */
  tasks: TaskHandlers;
}

/** A running worker. */
export interface QueueWorker {
  /** Lets running jobs finish, then closes the worker's connections. */
  stop(): Promise<void>;
  /** The worker's connection pool right now (metrics). */
  poolUsage(): PoolUsage;
}

/** Creates or upgrades the queue's tables (schema graphile_worker). */
export async function installQueue(databaseUrl: string, logger: Logger): Promise<void> {
  const pgPool = createPool(databaseUrl, 1, logger);
  try {
    await runMigrations({ pgPool, logger: workerLogger(logger) });
  } finally {
    await pgPool.end();
  }
}

/**
 * Unlocks jobs (and their queues) that a worker which died mid-job left locked, so that another
 * worker picks them up now rather than after graphile-worker's own four-hour timeout: every locked
 * job when `lockedLongerThanMs` is undefined (this process owns the database), else only those
 * locked longer than that. Returns how many jobs were unlocked.
 */
export async function unlockAbandonedJobs(databaseUrl: string, lockedLongerThanMs: number | undefined, logger: Logger): Promise<number> {
  const pgPool = createPool(databaseUrl, 1, logger);
  try {
    return await unlockJobs(pgPool, lockedLongerThanMs);
  } finally {
    await pgPool.end();
  }
}

/** Consecutive failures to fetch a job (each a poll interval apart) before the runner is rebuilt. */
const RESTART_AFTER_FAILURES = 6;
const POLL_INTERVAL_MS = 2000;

/**
 * Starts a worker that heals itself. graphile-worker retries a failed job fetch forever, but a
 * fetch that failed while the database was away at the runner's start can stay cached as failed
 * in that runner; so when fetching keeps failing, the runner is stopped and a fresh one started
 * (repeatedly, while the database is still away).
 */
export async function startWorker(options: WorkerOptions): Promise<QueueWorker> {
  const taskList = toTaskList(options.tasks);
  // The pool is ours, so that it is closed only after the runner has stopped using it.
  const pgPool = createPool(options.databaseUrl, options.concurrency + 2, options.logger);
  let stopping = false;
  let failures = 0;
  let restarting: Promise<void> | undefined;
  const launch = async (): Promise<Runner> => {
    const started = await run({
      pgPool,
      concurrency: options.concurrency,
      // segcat handles SIGINT/SIGTERM itself, to shut down in order.
      noHandleSignals: true,
      pollInterval: POLL_INTERVAL_MS,
      logger: workerLogger(options.logger),
      taskList,
    });
    started.events.on('worker:getJob:error', () => {
      failures += 1;
      if (failures >= RESTART_AFTER_FAILURES && !restarting && !stopping) restarting = restart().finally(() => (restarting = undefined));
    });
    const healthy = () => (failures = 0);
    started.events.on('worker:getJob:empty', healthy);
    started.events.on('job:start', healthy);
    return started;
  };
  const restart = async (): Promise<void> => {
    options.logger.warn({ failures }, 'queue worker cannot fetch jobs; restarting it');
    await runner.stop().catch(() => undefined);
    while (!stopping) {
      try {
        failures = 0;
        runner = await launch();
        return;
      } catch (error) {
        options.logger.warn({ err: error }, 'queue worker cannot start yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      }
    }
  };
  let runner = await launch();
  return {
    poolUsage: () => poolUsage(pgPool),
    async stop() {
      stopping = true;
      await restarting;
      try {
        // Already stopped when a restart was cut short, or when the runner gave up by itself.
        await runner.stop().catch(() => undefined);
      } finally {
        await pgPool.end();
      }
    },
  };
}

/** A pool for the queue; a connection dropped while idle is logged, not fatal. */
function createPool(databaseUrl: string, max: number, logger: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, application_name: 'segcat-worker' });
  const lost = (error: Error) => logger.warn({ err: error }, 'queue connection lost');
  pool.on('error', lost);
  // Errors on a checked-out client (e.g. the server restarting) go to that client, not the pool.
  pool.on('connect', (client) => client.on('error', lost));
  return pool;
}

/** graphile-worker's task list: each handler, told whether this attempt is its job's last. */
function toTaskList(tasks: TaskHandlers): TaskList {
  const list: TaskList = {};
  for (const name of Object.keys(tasks) as TaskName[]) {
    const handler: TaskHandler<TaskName> = tasks[name];
    list[name] = async (payload, helpers) => {
      await handler(payload, { lastAttempt: helpers.job.attempts >= helpers.job.max_attempts });
    };
  }
  return list;
}

/** graphile-worker's logger, writing to pino. */
function workerLogger(logger: Logger): WorkerLogger {
  const child = logger.child({ component: 'queue' });
  return new WorkerLogger(() => (level, message, meta) => {
    const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'debug';
    child[method](meta ?? {}, message);
  });
}
