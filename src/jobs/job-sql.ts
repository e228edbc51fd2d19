/**
 * Every statement on graphile-worker's own schema (`graphile_worker.*`): the one module that knows
 * its tables and SQL functions. Jobs are queued and removed inside the caller's transaction, so a
 * job commits or rolls back together with the rows it concerns.
 */
import type pg from 'pg';
import { Prisma } from '../generated/prisma/client.js';
import { TASK_SPECS, type TaskName } from './tasks.js';

/**
 * What an unfinished job is doing: `waiting` to run, `running` (a worker holds it), `retrying`
 * (an attempt failed; it runs again after its backoff), `failed` (out of attempts, never run again).
 */
export const JOB_STATES = ['waiting', 'running', 'retrying', 'failed'] as const;

/** A state of an unfinished job. */
export type JobState = (typeof JOB_STATES)[number];

/**
 * Queues a job of `task` in the transaction `tx`, under the job key and with the attempts its
 * TASK_SPECS entry gives.
 */
export async function addJob<T extends TaskName>(tx: Prisma.TransactionClient, task: T, payload: GraphileWorker.Tasks[T]): Promise<void> {
  const spec = TASK_SPECS[task];
  await tx.$executeRaw`SELECT graphile_worker.add_job(${task}, ${JSON.stringify(payload)}::json, job_key := ${spec.jobKey(payload)}::text, max_attempts := ${spec.maxAttempts}::int)`;
}

/**
 * Removes the job with this key in the transaction `tx`; one a worker is running now is left to
 * finish, but not retried.
 */
export async function removeJob(tx: Prisma.TransactionClient, jobKey: string): Promise<void> {
  await tx.$executeRaw`SELECT graphile_worker.remove_job(${jobKey}::text)`;
}

/**
 * SQL condition: a job with the key `jobKey` (an SQL expression) exists, or with `locked`, a
 * worker holds it now.
 */
export function jobExists(jobKey: Prisma.Sql, options: { locked?: boolean } = {}): Prisma.Sql {
  const locked = options.locked ? Prisma.sql` AND j.locked_at IS NOT NULL` : Prisma.empty;
  return Prisma.sql`EXISTS (SELECT 1 FROM graphile_worker._private_jobs j WHERE j.key = ${jobKey}${locked})`;
}

/**
 * Unlocks jobs, and their queues, locked longer than `lockedLongerThanMs` (every locked one when
 * undefined). Returns how many jobs were unlocked.
 */
export async function unlockJobs(pgPool: pg.Pool, lockedLongerThanMs: number | undefined): Promise<number> {
  const age = lockedLongerThanMs === undefined ? null : `${Math.floor(lockedLongerThanMs)} milliseconds`;
  const stale = 'locked_at IS NOT NULL AND ($1::interval IS NULL OR locked_at < now() - $1::interval)';
  const jobs = await pgPool.query(`UPDATE graphile_worker._private_jobs SET locked_at = NULL, locked_by = NULL WHERE ${stale}`, [age]);
  await pgPool.query(`UPDATE graphile_worker._private_job_queues SET locked_at = NULL, locked_by = NULL WHERE ${stale}`, [age]);
  return jobs.rowCount ?? 0;
}

/**
 * Unfinished jobs per task and state, every pair present. graphile-worker deletes a job once it
 * succeeds, so the table holds only the queue's work: counting it stays cheap whatever the
 * catalogue's size.
 */
export async function countJobs(db: Pick<Prisma.TransactionClient, '$queryRaw'>): Promise<Record<TaskName, Record<JobState, number>>> {
  const tasks = Object.keys(TASK_SPECS) as TaskName[];
  const rows = await db.$queryRaw<{ task: TaskName; state: JobState; count: number }[]>`
    SELECT t.identifier AS task,
           CASE WHEN j.locked_at IS NOT NULL THEN 'running'
                WHEN j.attempts >= j.max_attempts THEN 'failed'
                WHEN j.attempts > 0 THEN 'retrying'
                ELSE 'waiting' END AS state,
           count(*)::int AS count
    FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
    WHERE t.identifier = ANY(${tasks}::text[])
    GROUP BY 1, 2`;
  const counts = Object.fromEntries(tasks.map((task) => [task, Object.fromEntries(JOB_STATES.map((state) => [state, 0]))])) as Record<TaskName, Record<JobState, number>>;
  for (const row of rows) counts[row.task][row.state] = row.count;
  return counts;
}
