/**
 * The background jobs segcat runs: their names, payloads and how they are queued.
 *
 * Glossary (graphile-worker's words):
 * - task: a kind of work, named by its identifier (`segment_image`); its payload type is declared
 *   in `GraphileWorker.Tasks` below, so queueing (`addJob` in ./job-sql.ts) and running
 *   (`startWorker` in ./queue.ts) are type-checked against the same payload.
 * - job: one queued piece of work, a row in graphile-worker's schema: task identifier, JSON payload,
 *   attempts made so far and the most allowed.
 * - job key: a job's name in the queue. Queueing a job under a key that is already waiting
 *   replaces that job, so a key has at most one job waiting.
 * - attempt: one run of a job. A handler that throws is retried later, with backoff, until
 *   `maxAttempts` runs have failed; the job then stays in the queue, failed, and is never run again.
 * - handler: segcat's function that does a task's work for one job (`TaskHandlers`).
 * - worker: a process running handlers (`segcat serve` or `segcat worker`). Workers lock each job
 *   they take (SKIP LOCKED), so a job runs in one worker at a time.
 */

import type { Quality } from '../vision/types.js';

declare global {
  namespace GraphileWorker {
    /** Payload of each task, by task identifier. */
    interface Tasks {
      segment_image: SegmentImagePayload;
    }
  }
}

/** Payload of `segment_image`: segments one image and records its segments. */
export interface SegmentImagePayload {
  imageId: string;
  /** Model to segment with (a manifest name); the worker's SEGCAT_MODEL when absent. */
  model?: string;
  /** How thoroughly to segment; the worker's SEGCAT_QUALITY when absent. */
  quality?: Quality;
}

/** A task identifier. */
export type TaskName = keyof GraphileWorker.Tasks;

/** What a handler is told about its job besides the payload. */
export interface JobContext {
  /** This is the job's last attempt: if it fails, the job is not run again. */
  lastAttempt: boolean;
}

/** Does one job of task `T`; throwing fails this attempt. */
export type TaskHandler<T extends TaskName> = (payload: GraphileWorker.Tasks[T], job: JobContext) => Promise<void>;

/** A handler for every task. */
export type TaskHandlers = { [T in TaskName]: TaskHandler<T> };

/** How the jobs of one task are queued. */
export interface TaskSpec<T extends TaskName> {
  /** The job key of a payload: at most one job per key waits at a time. */
  jobKey(payload: GraphileWorker.Tasks[T]): string;
  /** Runs before a failing job gives up. */
  maxAttempts: number;
}

/** How each task's jobs are queued: all of the queue's defaults, in one place. */
export const TASK_SPECS: { [T in TaskName]: TaskSpec<T> } = {
  // Keyed by image, so an image has at most one job waiting however often it is queued; after the
  // last attempt the segmentation service marks the image FAILED.
  segment_image: { jobKey: (payload) => payload.imageId, maxAttempts: 5 },
};
