/**
 * "Model first" scheduling for the commands that only segment (`segcat worker`, `segcat import`,
 * `segcat segment`, `segcat resegment --wait`).
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
import type { Config } from '../config.js';

/** Name Node gives worker threads; onnxruntime's threads, started from the model's worker thread, inherit it. */
const MODEL_THREAD_NAME = 'WorkerThread';

/** Nice value given to the threads outside the models (0 is normal, 19 the lowest priority). */
export const OUTSIDE_MODEL_NICE = 10;

/** What lowerPriorityOutsideModels did: how many threads it lowered and kept, or why it did nothing. */
export type PriorityOutcome = { lowered: number; kept: number } | { skipped: string };

/** A change of priorities that can be undone. */
export interface PriorityChange {
  outcome: PriorityOutcome;
  /**
   * Gives the threads outside the models their earlier priority back, once the batch is over, so
   * that a process running a command inside it (a test, a program embedding segcat) is left as it
   * was. Threads started meanwhile inherited the lowered value: they get the main thread's earlier one.
   * Best effort: going back to a higher priority needs root (CAP_SYS_NICE) or a RLIMIT_NICE that
   * allows it; without them the threads stay lowered until the process ends.
   */
  restore(): void;
}

/** This process's threads by thread id, the models' apart; undefined off Linux. */
function listThreads(): { outside: number[]; models: number } | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const outside: number[] = [];
  let models = 0;
  for (const tid of tasks.map(Number)) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === MODEL_THREAD_NAME) models++;
      else outside.push(tid);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return { outside, models };
}

/** A thread's nice value; undefined when it ended meanwhile. */
function niceOf(tid: number): number | undefined {
  try {
    return os.getPriority(tid);
  } catch {
    return undefined;
  }
}

/** Sets a thread's nice value; a thread that ended meanwhile (or a refusal to raise it) is skipped. */
function setNice(tid: number, nice: number): void {
  try {
    os.setPriority(tid, nice);
  } catch {
    // The thread ended meanwhile, or raising its priority needs a privilege this process lacks.
  }
}

/**
 * Whether the model's threads get the CPU first under SEGCAT_MODEL_PRIORITY, in a process that only
 * segments (`onlySegments`) or in one that also does other work (serving the API, embedding segcat).
 */
export function modelFirst(priority: Config['modelPriority'], onlySegments: boolean): boolean {
  return priority === 'high' || (priority === 'auto' && onlySegments);
}

/** Lowers the CPU priority of this process's threads, except the models' (worker threads and theirs). */
export function lowerPriorityOutsideModels(nice = OUTSIDE_MODEL_NICE): PriorityChange {
  const threads = listThreads();
  if (!threads) return { outcome: { skipped: 'per-thread priorities need Linux (/proc/self/task)' }, restore: () => undefined };
  const mainBefore = os.getPriority(process.pid);
  const before = new Map<number, number>();
  for (const tid of threads.outside) {
    const current = niceOf(tid);
    // Never raise a priority someone lowered further already.
    if (current === undefined || current >= nice) continue;
    setNice(tid, nice);
    before.set(tid, current);
  }
  let restored = false;
  return {
    outcome: { lowered: before.size, kept: threads.models },
    restore() {
      if (restored) return;
      restored = true;
      for (const tid of listThreads()?.outside ?? []) {
        const earlier = before.get(tid) ?? (mainBefore < nice && niceOf(tid) === nice ? mainBefore : undefined);
        if (earlier !== undefined) setNice(tid, earlier);
      }
    },
  };
}
