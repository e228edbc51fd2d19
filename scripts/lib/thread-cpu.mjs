// CPU time of this process by thread kind, read from /proc/self/task (Linux; elsewhere empty).
// Threads are told apart by name: node's main thread, the model's worker thread (onnxruntime's
// own threads inherit its name), libvips' workers (sharp), libuv's pool (fs, zlib, hashing) and
// V8's helpers (concurrent garbage collection and compilation).
import { readdirSync, readFileSync } from 'node:fs';

const KINDS = {
  MainThread: 'main thread (JS, Prisma, pg, post-processing)',
  WorkerThread: 'model thread (onnxruntime)',
  'libvips worker': 'libvips (decode, resize, thumbnail)',
  'libuv-worker': 'libuv pool (files, deflate, sha256)',
  V8Worker: 'V8 helpers (garbage collection)',
};

/** CPU ms used so far by each thread name. */
export function threadCpu() {
  const byName = {};
  let tasks;
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return byName;
  }
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in clock ticks (100 per second on Linux).
      byName[name] = (byName[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byName;
}

/**
 * What each kind of thread spent between two threadCpu() readings, per item, largest first:
 * [{ kind, ms }]. Threads that ended in between are missing from the second reading.
 */
export function threadCpuPer(before, after, items) {
  const rows = Object.entries(after)
    .map(([name, ms]) => ({ kind: KINDS[name] ?? name, ms: (ms - (before[name] ?? 0)) / items }))
    .filter((row) => row.ms > 0);
  return rows.sort((a, b) => b.ms - a.ms);
}

/**
 * CPU ms used so far by every PostgreSQL server process on this machine (Linux; elsewhere 0).
 * Machine-wide: a bench that is the database's only client reads its own share.
 */
export function postgresCpu() {
  let total = 0;
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}
