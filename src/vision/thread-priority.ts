/**
 * "Model first" scheduling for processes that only segment (`segcat worker`, `segcat import`,
 * `segcat segment`).
 *
 * On 2 cores the model alone keeps ~1.5 of them busy. A segmenting process also has work outside
 * the model: JavaScript, Prisma, mask encoding, fsyncs, garbage collection. When that work takes a
 * core, one of onnxruntime's threads waits for it, and the whole model run waits for that thread.
 * Every thread of the process except the models' then gets a lower CPU priority (a higher nice
 * value), so the model's threads get a core first and the rest fills the gaps. `bench:ingest`
 * measured 0.70 → 0.81 of the model-only rate, and `segcat segment` 1.24–1.30 → 1.16 × the model
 * alone per extra photo (README, "Bulk ingestion" and "Speed").
 *
 * Linux only: a thread's nice value is its own there (setpriority on a thread id), and raising it
 * needs no privilege. Threads started later inherit the value of the thread that starts them, so
 * this runs once the configured models are loaded: a model loaded later, by a job that asks for
 * another one, shares the lowered priority of the rest.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Name Node gives worker threads; onnxruntime's threads, started from the model's worker thread, inherit it. */
const MODEL_THREAD_NAME = 'WorkerThread';

/** Nice value given to the threads outside the models (0 is normal, 19 the lowest priority). */
export const OUTSIDE_MODEL_NICE = 10;

/** What lowerPriorityOutsideModels did. */
export type PriorityOutcome = { lowered: number; kept: number } | { skipped: string };

/** Lowers the CPU priority of this process's threads, except the models' (worker threads and theirs). */
export function lowerPriorityOutsideModels(nice = OUTSIDE_MODEL_NICE): PriorityOutcome {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return { skipped: 'per-thread priorities need Linux (/proc/self/task)' };
  }
  let lowered = 0;
  let kept = 0;
  for (const task of tasks) {
    try {
      if (readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim() === MODEL_THREAD_NAME) {
        kept++;
        continue;
      }
      // Never raise a priority someone lowered further already.
      if (os.getPriority(Number(task)) < nice) os.setPriority(Number(task), nice);
      lowered++;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return { lowered, kept };
}
